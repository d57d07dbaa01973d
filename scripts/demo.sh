#!/usr/bin/env bash
# The README's first command. On a fresh Debian machine (as root), from a clone of this repository:
#   bash scripts/demo.sh
# installs what is needed (Docker, a registry, busybox, Node, the package, kubectl and helm in .venv;
# the backend builds on the machine's JDK 25 with the Maven 3.9 its Maven Wrapper fetches),
# starts the Docker engine and a local registry (htpasswd auth, data under .retail-deploy/) unless
# they run already, makes the base images locally (busybox, a jlink Java runtime), builds the example
# platform (examples/retail-platform/: `mvn` (./mvnw) and `npm` as the runbook runs them), pushes it, deploys it with
# `retail-deploy deploy.development`, and prints where each service answers and its health.
# Running it again is safe: nothing is rebuilt or restarted when nothing changed.
#
# Environment (all optional):
#   VERSION=1.0.0                   version to deploy
#   RETAIL_REGISTRY=127.0.0.1:5000  registry address (started here when it is on 127.0.0.1 and free)
#   RETAIL_BACKEND_PORT=8080 RETAIL_CONSUMER_PORT=3000 RETAIL_ADMIN_PORT=3001   where services answer
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

VERSION="${VERSION:-1.0.0}"
export RETAIL_REGISTRY="${RETAIL_REGISTRY:-127.0.0.1:5000}"
export RETAIL_DEPLOY_CONFIG="$ROOT/examples/retail-platform/retail-platform.yaml"
STATE="$ROOT/.retail-deploy"
REGISTRY_DIR="$STATE/registry"

say() { printf '==> [%3ds] %s\n' "$SECONDS" "$*"; }  # seconds since the start: the slow steps show
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts dockerd): sudo bash scripts/demo.sh"

# 1. System packages, Docker engine (no bridge: loopback only), the local base images, the package.
say "system packages (first run: Docker, a registry, Node; a few minutes)"
bash scripts/install-system-deps.sh
bash scripts/start-docker.sh
say "base images: busybox, and a Java runtime cut by jlink (made once per machine)"
bash scripts/make-base-image.sh
bash scripts/make-jre-image.sh
say "Python package in .venv"
bash scripts/bootstrap-python.sh
say "kubectl and helm in .venv/bin (fetched once per machine)"
bash scripts/install-cli-tools.sh
PY="$ROOT/.venv/bin/python"

# 2. A local registry with htpasswd auth. The credentials are made once and kept (mode 600).
mkdir -p "$REGISTRY_DIR/storage"
chmod 700 "$STATE"
if [ ! -s "$REGISTRY_DIR/credentials" ]; then
    ( umask 077; printf 'REGISTRY_USERNAME=deployer\nREGISTRY_PASSWORD=%s\n' \
        "$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" > "$REGISTRY_DIR/credentials" )
fi
set -a; . "$REGISTRY_DIR/credentials"; set +a

registry_status() {  # HTTP status of /v2/ with our credentials (000 when nothing answers)
    curl -s -o /dev/null -m 3 -w '%{http_code}' -u "$REGISTRY_USERNAME:$REGISTRY_PASSWORD" \
        "http://$RETAIL_REGISTRY/v2/" || true
}

status="$(registry_status)"
if [ "$status" = "200" ]; then
    say "registry: $RETAIL_REGISTRY already running"
elif [ "$status" != "000" ]; then
    die "something else answers on $RETAIL_REGISTRY (HTTP $status to our credentials); pick a free address: RETAIL_REGISTRY=127.0.0.1:5055 bash scripts/demo.sh"
else
    case "$RETAIL_REGISTRY" in
        127.0.0.1:*|localhost:*) ;;
        *) die "registry $RETAIL_REGISTRY does not answer, and only a local one (127.0.0.1:PORT) is started here" ;;
    esac
    say "registry: starting on $RETAIL_REGISTRY (data: $REGISTRY_DIR)"
    htpasswd -Bbn "$REGISTRY_USERNAME" "$REGISTRY_PASSWORD" > "$REGISTRY_DIR/htpasswd"
    cat > "$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $REGISTRY_DIR/storage}
  delete: {enabled: true}
http: {addr: "$RETAIL_REGISTRY", secret: "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"}
auth:
  htpasswd: {realm: retail-deploy-demo, path: $REGISTRY_DIR/htpasswd}
EOF
    # setsid: the registry outlives this script (later deploys push to it). It must not inherit
    # this script's other open files: run under `flock LOCKFILE bash scripts/demo.sh`, it would
    # hold the lock for as long as it runs.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
        done
        exec setsid docker-registry serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/registry.log" 2>&1 < /dev/null
    ) &
    echo $! > "$REGISTRY_DIR/registry.pid"
    for _ in $(seq 1 30); do
        [ "$(registry_status)" = "200" ] && break
        sleep 1
    done
    [ "$(registry_status)" = "200" ] || { tail -n 20 "$REGISTRY_DIR/registry.log" >&2; die "the registry did not start"; }
fi

# 3. Build, push and deploy the example platform; each new container must pass its health checks.
say "deploying the example platform $VERSION (retail-deploy deploy.development): builds with Maven and npm"
say "(first run: Maven and npm download their dependencies; unchanged inputs are not rebuilt)"
"$ROOT/.venv/bin/retail-deploy" deploy.development --version "$VERSION"

# 4. Where each service answers, and its health, as a user would check it.
say "where the services answer"
"$PY" - <<'EOF'
import json
import urllib.error
import urllib.request

from retail_deploy.config import load_config

cfg = load_config()
env = cfg.environment("development")
failed = False
for name, service in cfg.services.items():
    base = env.urls[name]
    paths = [h.path for h in service.health] or ["/"]
    results = []
    for path in paths:
        try:
            with urllib.request.urlopen(base + path, timeout=5) as response:
                results.append(f"{path} {response.status}")
        except (urllib.error.URLError, OSError) as error:
            failed = True
            results.append(f"{path} FAILED ({getattr(error, 'code', error)})")
    version = ""
    if service.version_path:
        try:
            with urllib.request.urlopen(base + service.version_path, timeout=5) as response:
                version = " version " + json.loads(response.read()).get("version", "?")
        except (urllib.error.URLError, OSError, ValueError):
            version = " version ?"
    print(f"  {name:<13} {base:<24} {'; '.join(results)}{version}")
raise SystemExit(1 if failed else 0)
EOF
say "done. Next: source .venv/bin/activate; export RETAIL_DEPLOY_CONFIG=$RETAIL_DEPLOY_CONFIG; set -a; . $REGISTRY_DIR/credentials; set +a"
say "then e.g.: retail-deploy deploy.development --version 1.0.1   (docs/development-target.md)"
