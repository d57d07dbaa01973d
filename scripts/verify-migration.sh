#!/usr/bin/env bash
# Usage: verify-migration.sh ENV   (runbook: Database Migrations, steps 3-4)
# Every migration applied, none edited since (hash), each verify(db) passes.
# Thin glue over the retail-deploy CLI: its exit code is this script's (0 ok, 1 failed,
# 2 bad input, 4 locked, 5 the database did not answer). DRY_RUN=1 prints the plan and changes nothing.
set -euo pipefail

# shellcheck source=lib/retail-deploy-cli.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/retail-deploy-cli.sh"

if [ $# -lt 1 ]; then
  echo "usage: $0 ENV   e.g. $0 staging" >&2
  exit 2
fi
env=$1; shift
if [ "$env" = local ]; then env=development; fi
cli db.verify --env "$env" "$@"
