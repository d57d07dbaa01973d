"""Is the environment's kube context in the kubeconfig? Asked of the kubeconfig alone (no cluster
is contacted), before anything else a Kubernetes target does: a context or kubeconfig that does
not exist is bad configuration (exit 2, one line naming it), not a failed deploy whose first
error quotes the lock's `kubectl create configmap` (docs/deploying.md "Kube context")."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from retail_deploy.commands import kubectl
from retail_deploy.errors import InputError

if TYPE_CHECKING:
    from retail_deploy.execute import Runner

_NOT_FOUND = re.compile(r"context \S+ not found")
# Contexts already found in this process (KUBECONFIG, context): each is asked once.
_KNOWN: set[tuple[str, str]] = set()


def kubeconfig_files(environ: dict[str, str] | None = None) -> list[str]:
    """The kubeconfig files kubectl reads: $KUBECONFIG's list, else ~/.kube/config."""
    environ = dict(os.environ) if environ is None else environ
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return listed or [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def require_context(runner: Runner, context: str, env_name: str) -> None:
    """InputError (exit 2) when kubectl says `context` is not in the kubeconfig (the message says
    when the kubeconfig file itself does not exist). A dry run states it as an assumption and goes on."""
    files = kubeconfig_files()
    key = (os.pathsep.join(files), context)
    if key in _KNOWN:
        return
    result = runner.probe(kubectl.context_exists(context), check=False)
    if result.ok:
        _KNOWN.add(key)
        return
    if _NOT_FOUND.search(result.stderr or ""):
        if not any(os.path.exists(path) for path in files):
            problem = (f"kubeconfig {os.pathsep.join(files)} does not exist (kube context {context!r}): "
                       f"set KUBECONFIG, or run setup.cluster --env {env_name}")
        else:
            problem = (f"kube context {context!r} is not in the kubeconfig {os.pathsep.join(files)}: "
                       "check kube_context, or KUBECONFIG")
        if runner.dry:  # a plan is rehearsed at a desk that may lack the cluster's kubeconfig
            runner.say(f"assuming kube context {context} exists: {problem} (a real run stops here, exit 2)")
            _KNOWN.add(key)
            return
        raise InputError(f"environment {env_name}: {problem}")
    # kubectl could not say (not installed, an unreadable file): the commands that follow report it.
