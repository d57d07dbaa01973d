# Sourced by the runbook's thin wrapper scripts (run-migration.sh, db-rollback.sh, ...): not run on its own.
# cli ARGS...: exec the retail-deploy CLI, so its exit code is the script's (0 ok, 1 failed, 2 bad input,
# 4 locked, 5 the database or cluster did not answer). DRY_RUN=1 adds invoke's --dry: the plan is
# printed and nothing changes.
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
