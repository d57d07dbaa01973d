"""The architecture rule (docs/architecture.md, "Targets: the deploy-target seam"): one function
picks the target from the environment, and nothing else branches on `environment.target`.

Each allowance below is a module the architecture documents as Kubernetes-only (or as reading
the config itself); any other module comparing `.target` with a target name fails this test:
give the target a method or attribute (retail_deploy/targets/__init__.py, `Target`) instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

from retail_deploy.config import TARGETS

PACKAGE = Path(__file__).resolve().parents[3] / "retail_deploy"
SEAM = PACKAGE / "targets"

ALLOWED = {
    # the foundation reads the config: which task deploys an environment (for hints), and the
    # default environment of the Docker tasks
    "config.py": "hints name the task of the environment's target; docker_environment's default",
    # config.validate: each target package checks its own config section
    "docker/target.py": "validate_config checks the docker: section of the Docker environments",
    "docker/session.py": "require_docker_env: the Docker target's functions refuse another target's environment",
    "kube/settings.py": "validate_section checks the kube: section of the Kubernetes environments",
    # the documented Kubernetes-only chapters (and a default)
    "tasks/_kube.py": "kubernetes_env: the Kubernetes-only tasks (ops, lock via kubectl) refuse other targets",
    "tasks/troubleshoot.py": "troubleshooting reads pods and events: Kubernetes only",
    "tasks/health.py": "--via defaults to kubectl on Kubernetes, direct elsewhere",
    "checklist/gate.py": "the rollback plan shown before a deploy is Kubernetes' own procedure",
}


def _names_a_target(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in TARGETS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_a_target(e) for e in node.elts)
    return False


def branches_on_target(source: str) -> list[int]:
    """Lines comparing an environment's `.target` (or a Target's `.kind`) with a target name
    (==, !=, in, not in)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if (any(isinstance(s, ast.Attribute) and s.attr in ("target", "kind") for s in sides)
                and any(_names_a_target(s) for s in sides)):
            lines.append(node.lineno)
    return lines


def test_the_check_sees_each_form_of_the_branch() -> None:
    assert branches_on_target("if env.target == 'docker': pass") == [1]
    assert branches_on_target("x = 1\nok = cfg.environment(e).target != 'kubernetes'") == [2]
    assert branches_on_target("if env.target in ('docker',): pass") == [1]
    assert branches_on_target("\n\nif policy.target.kind != 'kubernetes': pass") == [3]
    assert branches_on_target("if env.target == other or env.name == 'docker': pass") == []


def test_nothing_outside_the_seam_branches_on_the_target() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if SEAM in path.parents:
            continue
        lines = branches_on_target(path.read_text(encoding="utf-8"))
        if lines:
            found[path.relative_to(PACKAGE).as_posix()] = lines
    unexpected = {name: lines for name, lines in found.items() if name not in ALLOWED}
    assert unexpected == {}, ("these modules branch on environment.target: let the target say it "
                              f"(retail_deploy/targets, Target): {unexpected}")
    stale = sorted(set(ALLOWED) - set(found))
    assert stale == [], f"allowed but no longer branching on the target (drop them from ALLOWED): {stale}"
