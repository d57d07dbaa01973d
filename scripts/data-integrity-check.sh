#!/usr/bin/env bash
# Usage: data-integrity-check.sh [ENV]   (runbook: Rollback Procedures, Database Rollback)
# After a database rollback: what is applied is unedited and passes its verify(db); undone migrations may be pending. ENV defaults to $RETAIL_DEPLOY_ENV, else production.
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

env=${RETAIL_DEPLOY_ENV:-production}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then env=$1; shift; fi
cli db.verify --env "$env" --allow-pending "$@"
