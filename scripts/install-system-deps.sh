#!/usr/bin/env bash
# Install the Debian 12 packages the test suite's real services need (run as root).
# Idempotent: installs only what is missing, and runs `apt-get update` once, only if needed.
# Package postinst scripts must not leave daemons on default ports (dockerd with a bridge
# network, prometheus :9090, node-exporter :9100, docker-registry :5000, sshd :22): the suite
# starts its own instances on free loopback ports, so service starts are blocked during the
# install (policy-rc.d) and any daemon that still came up is stopped afterwards.
set -euo pipefail

PACKAGES=(docker.io docker-registry prometheus openssh-server busybox-static apache2-utils
          python3-venv git curl openssl jq
          # The example backend's Maven Wrapper (./mvnw) unpacks the pinned Maven zip it checked.
          # Its JDK (21+, runbook) is the machine's Temurin JDK 25 (/usr/lib/jvm/temurin-25-jdk-amd64,
          # RETAIL_JAVA_HOME; Debian 12 has no JDK 21): the build steps and make-jre-image.sh use it.
          unzip
          # The Docker target's proxy (its image is made from these binaries: docs/development-target.md).
          haproxy socat)
# Services the packages above may start from their postinst scripts.
SERVICES=(docker docker-registry prometheus prometheus-node-exporter ssh haproxy)

export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps: run as root (sudo bash $0)" >&2
    exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    if [ "$status" != "installed" ]; then
        missing+=("$pkg")
    fi
done
# Node and npm for the example front ends: Debian's packages only when none is installed (a newer
# Node from elsewhere, e.g. NodeSource's nodejs with its own npm, is kept).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-system-deps: all packages present"
    exit 0
fi
echo "install-system-deps: installing ${missing[*]}"

# Block service starts during the install; restore any policy the machine already had.
POLICY=/usr/sbin/policy-rc.d
saved_policy=""
if [ -e "$POLICY" ]; then
    saved_policy="$(mktemp)"
    cp -p "$POLICY" "$saved_policy"
fi
restore_policy() {
    if [ -n "$saved_policy" ]; then
        mv -f "$saved_policy" "$POLICY"
    else
        rm -f "$POLICY"
    fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# installed by retail-deploy install-system-deps.sh\nexit 101\n' >"$POLICY"
chmod 755 "$POLICY"

apt-get update -qq
# No recommends: prometheus would pull prometheus-node-exporter, a daemon the tests do not use.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Stop whatever a package started anyway, but only for packages installed by this run:
# an sshd that was already serving the machine must keep running.
for svc in "${SERVICES[@]}"; do
    case "$svc" in
        docker) pkg=docker.io ;;
        ssh) pkg=openssh-server ;;
        *) pkg="$svc" ;;
    esac
    case " ${missing[*]} " in
        *" $pkg "*) ;;
        *) continue ;;
    esac
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        if systemctl is-active --quiet "$svc" 2>/dev/null; then
            echo "install-system-deps: stopping $svc started by its package"
            systemctl stop "$svc" || true
            systemctl stop "$svc.socket" 2>/dev/null || true
        fi
    elif [ -x "/etc/init.d/$svc" ] && "/etc/init.d/$svc" status >/dev/null 2>&1; then
        echo "install-system-deps: stopping $svc started by its package"
        "/etc/init.d/$svc" stop >/dev/null || true
    fi
done

# Report (not kill) anything still on the packages' default ports: it was not started by us.
busy="$(ss -Hltn 2>/dev/null | awk '{print $4}' | grep -E ':(22|2375|5000|9090|9100)$' || true)"
if [ -n "$busy" ]; then
    echo "install-system-deps: note: default service ports in use (not started by this run): $busy"
fi
echo "install-system-deps: done"
