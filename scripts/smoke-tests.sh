#!/usr/bin/env bash
# scripts/smoke-tests.sh <colour|env>: the runbook's smoke tests, backed by retail-deploy.
#
#   ./scripts/smoke-tests.sh green        the green deployment, before traffic is switched to it
#   ./scripts/smoke-tests.sh staging      every service of an environment
#
# The suite is the config's `smoke_tests:` list (default: the health table plus /api/v1/version).
#   SMOKE_ENV      environment a colour belongs to (default: production)
#   VERSION        when set, must appear in each version endpoint's answer
#   CA_BUNDLE      PEM file of CAs to trust (TLS verification is always on)
# Exit codes: 0 all passed, 1 a test failed, 2 bad input or configuration.
set -u

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 <blue|green|environment>" >&2
  exit 2
fi
target=$1

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="${repo_root}${PYTHONPATH:+:${PYTHONPATH}}"

case "$target" in
  blue|green) env_name=${SMOKE_ENV:-production} ;;
  *) env_name=$target ;;
esac

args=(health.smoke --env "$env_name" --target "$target")
if [ -n "${VERSION:-}" ]; then
  args+=(--version "$VERSION")
fi
if [ -n "${CA_BUNDLE:-}" ]; then
  args+=(--ca-bundle "$CA_BUNDLE")
fi

exec "${PYTHON:-python3}" -m retail_deploy "${args[@]}"
