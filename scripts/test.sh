#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs system packages and Python
# dependencies, starts the services the integration tests need, then runs ruff, mypy and pytest.
#   scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
bash scripts/start-docker.sh
bash scripts/make-base-image.sh
bash scripts/make-jre-image.sh
bash scripts/bootstrap-python.sh --test
# kubectl and helm in .venv/bin (the runbook's prerequisites; kube-up.sh below links its own kubectl over it).
bash scripts/install-cli-tools.sh
# The migration suite's real-server tests run on FerretDB (docs/migrations.md), unless the variable
# already names a MongoDB server.
if [ -z "${RETAIL_DEPLOY_TEST_MONGODB_URI:-}" ]; then
    RETAIL_DEPLOY_TEST_MONGODB_URI="$(bash scripts/mongo-up.sh | tail -n 1 | sed 's/^MONGODB_URI=//')"
    export RETAIL_DEPLOY_TEST_MONGODB_URI
fi

# The real Kubernetes control plane (tests/kube; the first run on a machine builds it: README).
echo "==> kubernetes control plane"
kube_line="$(bash scripts/kube-up.sh | tail -n1)"
export RETAIL_DEPLOY_TEST_KUBECONFIG="${kube_line#KUBECONFIG=}"

export PATH="$PWD/.venv/bin:$PATH"
echo "==> ruff"
ruff check .
echo "==> mypy"
mypy retail_deploy
echo "==> pytest"
# Most tests wait on real services rather than compute, so four workers on two cores roughly
# halve the wall time. Every service fixture binds its own free loopback port; the tests on the
# Docker engine share one worker (tests/conftest.py). PYTEST_WORKERS=0 runs in one process.
status=0
python -m pytest -n "${PYTEST_WORKERS:-4}" --dist loadgroup "$@" || status=$?
# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
exit "$status"
