#!/usr/bin/env bash
# Create .venv (if needed) and install retail-deploy into it, with the test extras when asked:
#   scripts/bootstrap-python.sh [--test]
# Works on a fresh Debian machine: installs python3-venv first when the venv module is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "==> installing python3-venv"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
# Reinstall only when the package metadata changed since the last install.
stamp=".venv/.retail-deploy-installed${extras:+-test}"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing retail-deploy${extras} into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
  touch "$stamp"
fi
