#!/usr/bin/env bash
# scripts/health-check.sh: the runbook's health check script, same interface, backed by retail-deploy.
#
#   BACKEND_URL, CONSUMER_URL, ADMIN_URL   base URLs (defaults: the production URLs of the runbook)
#   HEALTH_ENV                             environment whose health table is used (default: production)
#   HEALTH_TIMEOUT, HEALTH_RETRIES         seconds per answer (5) and extra attempts (2)
#   CA_BUNDLE                              PEM file of CAs to trust (TLS verification is always on)
#
# Prints "✅ Backend: HEALTHY" / "❌ Backend: UNHEALTHY" per service and "All services healthy!";
# exits 0 when all are healthy, 1 otherwise (every failure is listed, not only the first),
# 2 on bad input or configuration. All services are checked at once, with timeouts and retries.
set -u

BACKEND_URL=${BACKEND_URL:-https://api.example.com}
CONSUMER_URL=${CONSUMER_URL:-https://www.example.com}
ADMIN_URL=${ADMIN_URL:-https://admin.example.com}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="${repo_root}${PYTHONPATH:+:${PYTHONPATH}}"

args=(health.check --env "${HEALTH_ENV:-production}" --style runbook
      --timeout "${HEALTH_TIMEOUT:-5}" --retries "${HEALTH_RETRIES:-2}"
      --url "backend=${BACKEND_URL}" --url "consumer-web=${CONSUMER_URL}" --url "admin-web=${ADMIN_URL}")
if [ -n "${CA_BUNDLE:-}" ]; then
  args+=(--ca-bundle "${CA_BUNDLE}")
fi

exec "${PYTHON:-python3}" -m retail_deploy "${args[@]}"
