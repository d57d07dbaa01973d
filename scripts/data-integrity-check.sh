#!/usr/bin/env bash
# Usage: data-integrity-check.sh [ENV]   (runbook: Rollback Procedures, Database Rollback)
# After a database rollback: what is applied is unedited and passes its verify(db); undone migrations may be pending. ENV defaults to $RETAIL_DEPLOY_ENV, else production.
# Thin glue over the retail-deploy CLI: its exit code is this script's (0 ok, 1 failed,
# 2 bad input, 4 locked, 5 the database did not answer). DRY_RUN=1 prints the plan and changes nothing.
set -euo pipefail

# shellcheck source=lib/retail-deploy-cli.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/retail-deploy-cli.sh"

env=${RETAIL_DEPLOY_ENV:-production}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then env=$1; shift; fi
cli db.verify --env "$env" --allow-pending "$@"
