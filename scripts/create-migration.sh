#!/usr/bin/env bash
# Usage: create-migration.sh NAME   (runbook: Database Migrations, step 1)
# Writes migrations/YYYY-MM-DD-NAME.py from the template.
# Thin glue over the retail-deploy CLI: its exit code is this script's (0 ok, 1 failed,
# 2 bad input, 4 locked). DRY_RUN=1 prints the plan and changes nothing.
set -euo pipefail

# shellcheck source=lib/retail-deploy-cli.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/retail-deploy-cli.sh"

if [ $# -lt 1 ]; then
  echo "usage: $0 NAME   e.g. $0 add-user-preferences-field" >&2
  exit 2
fi
name=$1; shift
cli db.create "$name" "$@"
