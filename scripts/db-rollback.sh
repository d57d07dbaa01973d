#!/usr/bin/env bash
# Usage: db-rollback.sh VERSION [ENV]   (runbook: Rollback Procedures, Database Rollback)
# Undoes every migration applied after application VERSION; ENV defaults to $RETAIL_DEPLOY_ENV, else production.
# Thin glue over the retail-deploy CLI: its exit code is this script's (0 ok, 1 failed,
# 2 bad input, 4 locked). DRY_RUN=1 prints the plan and changes nothing.
set -euo pipefail

# shellcheck source=lib/retail-deploy-cli.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/retail-deploy-cli.sh"

if [ $# -lt 1 ]; then
  echo "usage: $0 PREVIOUS_VERSION [ENV]   e.g. $0 1.4.1" >&2
  exit 2
fi
version=$1; shift
env=${RETAIL_DEPLOY_ENV:-production}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then env=$1; shift; fi
cli db.rollback --env "$env" --to-version "$version" "$@"
