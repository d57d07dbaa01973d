#!/usr/bin/env bash
# Usage: db-rollback.sh VERSION [ENV]   (runbook: Rollback Procedures, Database Rollback)
# Undoes every migration applied after application VERSION; ENV defaults to $RETAIL_DEPLOY_ENV, else production.
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
  echo "usage: $0 PREVIOUS_VERSION [ENV]   e.g. $0 1.4.1" >&2
  exit 2
fi
version=$1; shift
env=${RETAIL_DEPLOY_ENV:-production}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then env=$1; shift; fi
cli db.rollback --env "$env" --to-version "$version" "$@"
