#!/usr/bin/env bash
# Usage: release-example.sh VERSION
# A whole release as shell glue over the retail-deploy CLI's --json documents (docs/json.md) and jq:
# lock check, build and push, deploy staging, verify, migrate, deploy production, and on failure
# roll back the code and the schema. Exit code: the failing task's (1 failed, 2 bad input,
# 3 rolled back, 4 locked, 5 a dependency did not answer), 0 when production runs VERSION.
#
# Environment:
#   SKIP_BUILD=1       the images are in the registry already (built by CI)
#   PRODUCTION_ACKS    pre-deployment checklist items confirmed by a person, space-separated
#                      (e.g. "ci-tests owasp-scan load-test"; see checklist.pre-deploy)
#   FORCE_REASON       deploy production although the checklist is not satisfied, for this reason
#                      (kept in the deploy history)
#   RETAIL_DEPLOY_CLI  the retail-deploy executable to use (default: retail-deploy on PATH)
# The same release in Python is in docs/library.md.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 VERSION   e.g. $0 1.4.2" >&2
  exit 2
fi
version=$1

rd() {  # the retail-deploy CLI; its exit code is rd's
  if [ -n "${RETAIL_DEPLOY_CLI:-}" ]; then
    "$RETAIL_DEPLOY_CLI" "$@"
  elif command -v retail-deploy >/dev/null 2>&1; then
    retail-deploy "$@"
  else
    "${PYTHON:-python3}" -m retail_deploy "$@"
  fi
}
say() { echo "release-example: $*" >&2; }

# Nobody else may be deploying production. (--json: one document on stdout, progress on stderr.)
lock=$(rd lock.status --env production --json)
if [ "$(jq -r '.locked and (.expired | not)' <<<"$lock")" = true ]; then
  say "production is locked by $(jq -r '.holder' <<<"$lock") (version $(jq -r '.version' <<<"$lock")) until $(jq -r '.expires' <<<"$lock")"
  exit 4
fi

# What production runs now is what a failed release returns to. verify prints its document even
# when production is unhealthy (exit 1), so read it either way.
previous=$(rd verify.production --json | jq -r '.version') || true
say "production runs ${previous:-an unknown version}"

# 1. Build and push every image; print what went to the registry.
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  rd build.all --version "$version" --push --json | jq -r '.images[] | "pushed \(.image)@\(.digest)"'
fi

# 2-3. Staging: deploy, then verify it serves the version.
rd deploy.staging --version "$version" --json \
  | jq -r '.services[] | "staging: \(.service) \(.previous // "-") -> \(.version) (\(.outcome))"'
rd verify.staging --version "$version" --json | jq -e '.ok' >/dev/null
rd db.migrate --env staging --version "$version" --yes >&2

# 4. Production: the schema first (recorded with the version), then the code.
pending=$(rd db.status --env production --json | jq -r '.pending | join(", ")')
say "production migrations pending: ${pending:-none}"
rd db.migrate --env production --version "$version" --yes >&2

acks=()
for item in ${PRODUCTION_ACKS:-}; do acks+=(--ack "$item"); done
if [ -n "${FORCE_REASON:-}" ]; then acks+=(--force "$FORCE_REASON"); fi
set +e
deployed=$(rd deploy.production --version "$version" --yes "${acks[@]}" --json)
code=$?
set -e
if [ "$code" -ne 0 ]; then
  case $code in
    3) say "the production deploy failed and was rolled back to $previous" ;;
    1) say "production does not verify: rolling back"
       rd rollback.undo --env production --yes >&2 || true ;;
    *) say "production deploy refused (exit $code): nothing was deployed" ;;
  esac
  if [ -n "$previous" ] && [ "$code" -ne 2 ] && [ "$code" -ne 4 ]; then
    rd rollback.db --env production --to-version "$previous" --yes >&2 || true
  fi
  exit "$code"
fi
jq -r '.services[] | "production: \(.service) \(.previous // "-") -> \(.version) (\(.outcome))"' <<<"$deployed"

# 5. The audit record says who deployed what.
rd rollback.history --env production --json \
  | jq -r '.entries | map(select(.action == "deploy")) | last | "recorded: \(.version) \(.result) by \(.who)"'
