"""The Kubernetes target: settings read from the config, read-only probes of the cluster,
pure deploy strategies (rolling, blue-green, staging), the deployer that carries a plan out
through the Runner, verify and rollback. Everything here speaks kubectl/helm through
`retail_deploy.commands`; nothing outside the Kubernetes target imports its internals
except through the target seam (docs/architecture.md, "Targets").
"""
