#!/usr/bin/env bash
# Start the Docker engine for local tests, without any bridge network or iptables rules:
# only loopback traffic is allowed on these machines, so containers use network_mode=host.
# Idempotent: does nothing when `docker info` already answers.
set -euo pipefail

LOG_FILE="${DOCKERD_LOG:-/var/log/dockerd.log}"
WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"

if docker info >/dev/null 2>&1; then
    echo "start-docker: dockerd already running"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "start-docker: dockerd is not running and starting it needs root; run: sudo bash $0" >&2
    exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "start-docker: dockerd not found; run scripts/install-system-deps.sh first" >&2
    exit 1
fi

# Parallel test sessions may call this at once: one starts dockerd, the others wait for it.
exec 9>/run/retail-deploy-start-docker.lock
flock -w 90 9 || { echo "start-docker: another start-docker.sh holds /run/retail-deploy-start-docker.lock" >&2; exit 1; }
if docker info >/dev/null 2>&1; then
    echo "start-docker: dockerd already running"
    exit 0
fi
# Only start a new daemon when none is alive (one may still be starting, e.g. after a crash recovery).
if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "start-docker: starting dockerd (log: $LOG_FILE)"
    # setsid: the daemon must outlive the shell (and the pytest session) that started it.
    setsid dockerd --bridge=none --iptables=false --ip-masq=false >"$LOG_FILE" 2>&1 < /dev/null 9>&- &
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
    if docker info >/dev/null 2>&1; then
        echo "start-docker: dockerd is ready"
        exit 0
    fi
    sleep 1
done

echo "start-docker: dockerd did not answer 'docker info' within ${WAIT_SECONDS}s; see $LOG_FILE:" >&2
tail -n 20 "$LOG_FILE" >&2 || true
exit 1
