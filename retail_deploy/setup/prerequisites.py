"""The runbook's "Required Tools": is each installed, and at least the version it asks for?

A tool is a command that prints its version and a pattern that finds the number in that
output. The runbook's list is the default; a team changes it in the `prerequisites:` section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retail_deploy.commands import Command, cmd
from retail_deploy.errors import CommandFailed, OperationFailed

if TYPE_CHECKING:
    from retail_deploy.config import PlatformConfig
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
class Finding:
    tool: Tool
    found: str | None  # version found, or None when missing
    ok: bool
    detail: str


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


def tools_from_config(cfg: PlatformConfig) -> tuple[Tool, ...]:
    """`prerequisites: {tools: [{name, command: [...], minimum, pattern}]}`; default: the runbook's."""
    section = cfg.section("prerequisites")
    section.unknown_keys({"tools"})
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


def check(runner: Runner, tools: tuple[Tool, ...]) -> list[Finding]:
    findings = []
    for tool in tools:
        try:
            result = runner.probe(tool.probe(), check=False)
        except CommandFailed as error:  # hung: say so instead of waiting for ever
            findings.append(Finding(tool, None, False, str(error)))
            continue
        # 127: the shell did not find the program.
        output = None if result.exit_code == 127 else (result.stdout + result.stderr)
        findings.append(judge(tool, output))
    return findings


def render(findings: list[Finding]) -> str:
    width = max(len(f.tool.name) for f in findings)
    lines = [f"  [{'ok' if f.ok else 'MISSING' if f.found is None else 'OLD':7}] {f.tool.name:{width}}  {f.detail}"
             for f in findings]
    bad = sum(not f.ok for f in findings)
    lines.append(f"{len(findings) - bad} of {len(findings)} tools ready")
    return "\n".join(lines)


def require(findings: list[Finding]) -> None:
    bad = [f.tool.name for f in findings if not f.ok]
    if bad:
        raise OperationFailed(f"required tools missing or too old: {', '.join(bad)} (see the table above)")
