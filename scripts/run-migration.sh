#!/usr/bin/env bash
# Usage: run-migration.sh ENV [VERSION] [task options...]   (runbook: Database Migrations, steps 2-4)
# Applies pending migrations (backup first on staging/production). The runbook's "local" is the development environment.
# Thin glue over the retail-deploy CLI: its exit code is this script's (0 ok, 1 failed,
# 2 bad input, 4 locked). DRY_RUN=1 prints the plan and changes nothing.
set -euo pipefail

cli() {
  local dry=()
  if [ "${DRY_RUN:-0}" = 1 ]; then dry=(--dry); fi
  # RETAIL_DEPLOY_CLI names a specific retail-deploy executable (another install, a test harness).
  if [ -n "${RETAIL_DEPLOY_CLI:-}" ]; then
    exec "$RETAIL_DEPLOY_CLI" "${dry[@]}" "$@"
  fi
  if command -v retail-deploy >/dev/null 2>&1; then
    exec retail-deploy "${dry[@]}" "$@"
  fi
  exec "${PYTHON:-python3}" -m retail_deploy "${dry[@]}" "$@"
}

if [ $# -lt 1 ]; then
  echo "usage: $0 ENV [VERSION]   e.g. $0 staging 1.4.2" >&2
  exit 2
fi
env=$1; shift
if [ "$env" = local ]; then env=development; fi
version=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then version=(--version "$1"); shift; fi
cli db.migrate --env "$env" "${version[@]}" "$@"
