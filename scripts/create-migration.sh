#!/usr/bin/env bash
# Usage: create-migration.sh NAME   (runbook: Database Migrations, step 1)
# Writes migrations/YYYY-MM-DD-NAME.py from the template.
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
  echo "usage: $0 NAME   e.g. $0 add-user-preferences-field" >&2
  exit 2
fi
name=$1; shift
cli db.create "$name" "$@"
