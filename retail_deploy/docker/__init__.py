"""The Docker engine target, local or over SSH: the pure plan (names, ports, run specs, health
judgement), the target that acts through the Docker SDK, and the one SDK client factory.
All imports in the project are absolute, so `import docker` still means the Docker SDK
(docs/architecture.md, "Targets").
"""
