"""The runbook's "Required Tools": is each installed, and at least the version it asks for?

A tool is a command that prints its version and a pattern that finds the number in that
output. The runbook's list is the default; a team changes it in the `prerequisites:` section.

Which tools this machine must have follows from the config (`requirements`, pure): a tool is
required when a configured task runs it (the build steps' Maven and JDK, npm's Node, Docker for the
images and the Docker target, kubectl and Helm for Kubernetes environments). A tool nothing
configured runs (docker compose), or only a one-off setup task (the cloud CLI of `setup.cluster`),
is reported as optional with what would use it and does not fail the check, unless
`prerequisites.require` names it. The JDK and Maven are probed the way the build steps run them:
the step's JAVA_HOME and the Maven Wrapper in its directory, not whatever `java` is first on PATH.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retail_deploy.commands import Command, cmd, in_directory_argv
from retail_deploy.errors import CommandFailed, OperationFailed

if TYPE_CHECKING:
    from retail_deploy.config import BuildStep, PlatformConfig, ServiceConfig
    from retail_deploy.execute import Runner


@dataclass(frozen=True)
class Tool:
    name: str
    command: tuple[str, ...]
    minimum: str
    pattern: str = r"(\d+\.\d+(?:\.\d+)?)"

    def probe(self) -> Command:
        return cmd(*self.command, read_only=True, timeout=30)


RUNBOOK_TOOLS: tuple[Tool, ...] = (
    Tool("docker", ("docker", "--version"), "20.10"),
    Tool("docker compose", ("docker", "compose", "version"), "2.0"),
    Tool("kubectl", ("kubectl", "version", "--client"), "1.28", r"Client Version: v(\d+\.\d+(?:\.\d+)?)"),
    Tool("helm", ("helm", "version", "--short"), "3.12"),
    Tool("aws", ("aws", "--version"), "2.0", r"aws-cli/(\d+\.\d+(?:\.\d+)?)"),
    Tool("node", ("node", "--version"), "20.0"),
    Tool("java (JDK)", ("javac", "-version"), "21"),
    Tool("maven", ("mvn", "-v"), "3.9", r"Apache Maven (\d+\.\d+(?:\.\d+)?)"),
)


@dataclass(frozen=True)
class Requirement:
    """A tool and what in the config runs it: required when something does, else optional."""

    tool: Tool
    needed_by: tuple[str, ...] = ()  # configured tasks that run it
    would_need: str = ""  # for an optional tool: what would use it

    @property
    def required(self) -> bool:
        return bool(self.needed_by)


@dataclass(frozen=True)
class Finding:
    tool: Tool
    found: str | None  # version found, or None when missing
    ok: bool
    detail: str
    required: bool = True
    why: str = ""  # what needs the tool (required) or would use it (optional)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def judge(tool: Tool, output: str | None) -> Finding:
    """Pure: the tool's version output (None: not installed) against its minimum."""
    if output is None:
        return Finding(tool, None, False, f"not installed (needs {tool.minimum}+)")
    match = re.search(tool.pattern, output)
    if not match:
        first = (output.strip().splitlines() or [""])[0]
        return Finding(tool, None, False, f"version not recognised in: {first[:80]}")
    found = match.group(1)
    if version_tuple(found) < version_tuple(tool.minimum):
        return Finding(tool, found, False, f"{found} is older than {tool.minimum}")
    return Finding(tool, found, True, f"{found} (needs {tool.minimum}+)")


MAVEN_PROGRAMS = {"mvn", "mvnw"}
NODE_PROGRAMS = {"npm", "npx", "node", "yarn", "pnpm"}


def _names(items: list[str]) -> str:
    return ", ".join(items)


def requirements(cfg: PlatformConfig) -> tuple[Requirement, ...]:
    """Pure: each tool of the check with what in `cfg` runs it (docs/configuration.md, prerequisites)."""
    section = cfg.section("prerequisites")
    section.unknown_keys({"tools", "require"})
    forced = set(section.str_list("require", []))
    if section.list("tools", None) is not None:  # the team's own list: every tool on it is required
        return tuple(Requirement(t, ("prerequisites.tools",)) for t in tools_from_config(cfg))
    known = {t.name for t in RUNBOOK_TOOLS}
    for name in sorted(forced - known):
        raise section.require("require").error(f"unknown tool {name!r} (known: {_names(sorted(known))})")
    services = list(cfg.services.values())
    steps = [(s, step) for s in services for step in s.build_steps]
    maven = [(s, step) for s, step in steps if Path(step.argv[0]).name in MAVEN_PROGRAMS]
    maven_services = list(dict.fromkeys(s.name for s, _ in maven))
    node_services = list(dict.fromkeys(s.name for s, step in steps if Path(step.argv[0]).name in NODE_PROGRAMS))
    envs = list(cfg.environments.values())
    kube = [e.name for e in envs if "kubectl" in e.tools]
    docker_envs = [e.name for e in envs if "docker" in e.tools]
    clusters = [e.name for e in envs if getattr(e.raw.get("cluster"), "value", None) is not None]

    def need(tool: Tool, *uses: str, would: str = "") -> Requirement:
        needed = tuple(u for u in uses if u)
        if tool.name in forced:
            needed += ("prerequisites.require",)
        return Requirement(_as_run(tool, maven), needed, would)

    def only(condition: object, text: str) -> str:
        return text if condition else ""

    maven_use = only(maven_services, f"build of {_names(maven_services)} (Maven steps)")
    uses: dict[str, tuple[tuple[str, ...], str]] = {  # tool -> (what runs it, what would)
        "docker": ((only(services, "build.* (docker build)"),
                    only(docker_envs, f"deploy to {_names(docker_envs)} (Docker target)")), ""),
        "docker compose": ((), "nothing configured runs it (the runbook's local stack, outside retail-deploy)"),
        "kubectl": ((only(kube, f"deploy, verify, rollback on {_names(kube)} (Kubernetes)"),), ""),
        "helm": ((only(kube, f"Helm releases on {_names(kube)}"),), ""),
        "aws": ((), f"setup.cluster --env {' / '.join(clusters)} would run it (cluster: section)"
                if clusters else "nothing configured runs it"),
        "node": ((only(node_services, f"build of {_names(node_services)} (npm steps)"),), ""),
        "java (JDK)": ((maven_use,), ""),
        "maven": ((maven_use,), ""),
    }
    return tuple(need(tool, *uses[tool.name][0], would=uses[tool.name][1]) for tool in RUNBOOK_TOOLS)


def _as_run(tool: Tool, maven: list[tuple[ServiceConfig, BuildStep]]) -> Tool:
    """The JDK and Maven as the first Maven build step runs them: its JAVA_HOME's javac, and its own
    Maven program (the wrapper, `./mvnw`) in the service's directory."""
    if not maven or tool.name not in {"java (JDK)", "maven"}:
        return tool
    service, step = maven[0]
    java_home = dict(step.env).get("JAVA_HOME")
    if tool.name == "java (JDK)":
        return tool if java_home is None else Tool(tool.name, (f"{java_home}/bin/javac", "-version"), tool.minimum)
    program = step.argv[0]
    if "/" in program:  # ./mvnw: the service's own wrapper, run where the step runs
        argv = in_directory_argv(str(service.source_dir), (program, "-v"), step.env)
    else:
        argv = ("env", *(f"{name}={value}" for name, value in step.env), program, "-v") if step.env else (program, "-v")
    return Tool(tool.name, argv, tool.minimum, tool.pattern)


def tools_from_config(cfg: PlatformConfig) -> tuple[Tool, ...]:
    """`prerequisites: {tools: [{name, command: [...], minimum, pattern}]}`; default: the runbook's."""
    section = cfg.section("prerequisites")
    section.unknown_keys({"tools", "require"})
    nodes = section.list("tools", None)
    if nodes is None:
        return RUNBOOK_TOOLS
    tools = []
    for node in nodes:
        node.unknown_keys({"name", "command", "minimum", "pattern"})
        pattern = node.str("pattern", Tool.pattern)
        try:
            re.compile(pattern)
        except re.error as error:
            raise node.require("pattern").error(f"invalid regular expression: {error}") from None
        tools.append(Tool(node.str("name"), node.str_list("command"), node.str("minimum"), pattern))
    return tuple(tools)


def check(runner: Runner, wanted: tuple[Requirement, ...] | tuple[Tool, ...]) -> list[Finding]:
    findings = []
    for item in wanted:
        need = item if isinstance(item, Requirement) else Requirement(item, ("prerequisites",))
        tool = need.tool
        try:
            result = runner.probe(tool.probe(), check=False)
        except CommandFailed as error:  # hung: say so instead of waiting for ever
            finding = Finding(tool, None, False, str(error))
        else:
            # 127: the shell did not find the program (`env` says 127 too for a missing program).
            output = None if result.exit_code in (126, 127) else (result.stdout + result.stderr)
            finding = judge(tool, output)
        findings.append(_with_need(finding, need))
    return findings


def _with_need(finding: Finding, need: Requirement) -> Finding:
    why = "; ".join(need.needed_by) if need.required else need.would_need
    return Finding(finding.tool, finding.found, finding.ok, finding.detail, need.required, why)


def render(findings: list[Finding]) -> str:
    width = max(len(f.tool.name) for f in findings)

    def status(f: Finding) -> str:
        return "ok" if f.ok else "optional" if not f.required else "MISSING" if f.found is None else "OLD"

    lines = [f"  [{status(f):8}] {f.tool.name:{width}}  {f.detail}"
             + (f"  - {'needed by' if f.required else 'optional:'} {f.why}" if f.why else "")
             for f in findings]
    required = [f for f in findings if f.required]
    bad = sum(not f.ok for f in required)
    optional = len(findings) - len(required)
    lines.append(f"{len(required) - bad} of {len(required)} required tools ready"
                 + (f"; {optional} optional (not needed by this config)" if optional else ""))
    return "\n".join(lines)


def require(findings: list[Finding]) -> None:
    bad = [f.tool.name for f in findings if f.required and not f.ok]
    if bad:
        raise OperationFailed(f"required tools missing or too old: {', '.join(bad)} (see the table above)")
