#!/usr/bin/env bash
# A MongoDB wire-protocol server on 127.0.0.1 for the migration tests: FerretDB with its SQLite
# backend (mongod itself cannot be installed here; see docs/migrations.md).
#   scripts/mongo-up.sh          start it, or reuse the one already running
#   scripts/mongo-up.sh --stop   stop the one this script started
# Prints `MONGODB_URI=<uri>` as its LAST line (scripts/test.sh exports it as
# RETAIL_DEPLOY_TEST_MONGODB_URI). Idempotent: a second run finds the running server and only
# prints the URI. FerretDB is built from its Go module on first use and cached by version outside
# the clone (scripts/lib/tools.sh); the first build takes a few minutes on 2 cores.
#
# Environment: RETAIL_DEPLOY_FERRETDB_DIR (state: data, pid, log; default
# /var/lib/retail-deploy/ferretdb), RETAIL_DEPLOY_FERRETDB_PORT (default 27217: not 27017, so a
# developer's own MongoDB is never mistaken for this one).
set -euo pipefail
TOOLS_SCRIPT=mongo-up
source "$(dirname "$0")/lib/tools.sh"

STATE_DIR="${RETAIL_DEPLOY_FERRETDB_DIR:-/var/lib/retail-deploy/ferretdb}"
PORT="${RETAIL_DEPLOY_FERRETDB_PORT:-27217}"
ADDR="127.0.0.1:$PORT"
URI="mongodb://$ADDR/"
FERRETDB_DIR="$TOOLS_CACHE/ferretdb-$FERRETDB_VERSION"
FERRETDB="$FERRETDB_DIR/bin/ferretdb"
PID_FILE="$STATE_DIR/ferretdb.pid"
LOG_FILE="$STATE_DIR/ferretdb.log"

build_ferretdb() {
    [ -x "$FERRETDB" ] && return 0
    command -v go >/dev/null || { tools_log "go not found (install Go >= 1.24)"; return 1; }
    # FerretDB's version package panics at start without build/version/version.txt, a file its
    # release tooling generates and the published module lacks, whenever the binary's main module is
    # github.com/FerretDB/FerretDB; and Go records that module as the main one for the ferretdb
    # command even when it is built through a wrapper module. So the wrapper replaces the module by
    # a copy of its published source plus that one file (the version, nothing else changed).
    # Its SQLite driver is modernc.org/sqlite, pure Go: CGO stays disabled (go_wrapper_build).
    local src copy
    src="$(GOFLAGS= go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
        sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
    [ -d "$src" ] || { tools_log "go mod download github.com/FerretDB/FerretDB@$FERRETDB_VERSION failed"; return 1; }
    copy="$(mktemp -d)/FerretDB"
    cp -r "$src" "$copy" && chmod -R u+w "$copy"
    echo "$FERRETDB_VERSION" >"$copy/build/version/version.txt"
    go_wrapper_build "FerretDB $FERRETDB_VERSION" "$FERRETDB_DIR" "module retaildeploy.local/ferretdb-build
go 1.24
require github.com/FerretDB/FerretDB $FERRETDB_VERSION
replace github.com/FerretDB/FerretDB => $copy" "-s -w" github.com/FerretDB/FerretDB/cmd/ferretdb
    rm -rf "$(dirname "$copy")"
}

running_pid() {
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
    # The pid must still be a ferretdb of ours (any cached version), not a recycled pid.
    [ -n "$pid" ] || return 1
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
        "$TOOLS_CACHE"/ferretdb-*/bin/ferretdb*) echo "$pid" ;;
        *) return 1 ;;
    esac
}

answers() {
    # A `ping` command in one OP_MSG, by hand (python3 stdlib only: this runs before any venv).
    # ferretdb's own `ping` subcommand needs --setup-database, which needs its experimental auth.
    python3 - "$ADDR" <<'PY' 2>/dev/null
import socket, struct, sys

host, port = sys.argv[1].rsplit(":", 1)
body = b"\x10ping\x00" + struct.pack("<i", 1) + b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00"
document = struct.pack("<i", len(body) + 5) + body + b"\x00"
message = struct.pack("<I", 0) + b"\x00" + document  # flagBits, then one kind-0 section
with socket.create_connection((host, int(port)), timeout=2) as sock:
    sock.sendall(struct.pack("<iiii", 16 + len(message), 1, 0, 2013) + message)  # 2013: OP_MSG
    reply = sock.recv(65536)
sys.exit(0 if b"\x01ok\x00" + struct.pack("<d", 1.0) in reply else 1)
PY
}

# wait_until_answering SECONDS [PID]: true once it answers; false after SECONDS or once PID exits.
wait_until_answering() {
    local deadline=$((SECONDS + $1)) pid="${2:-}"
    until answers; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

stop() {
    local pid
    if pid="$(running_pid)"; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        tools_log "stopped FerretDB (pid $pid)"
    fi
    rm -f "$PID_FILE"
}

start() {
    local pid
    if pid="$(running_pid)" && [ "$(readlink "/proc/$pid/exe")" != "$FERRETDB" ]; then
        tools_log "FerretDB (pid $pid) is not the $FERRETDB_VERSION build: replacing it"
        stop
    fi
    if pid="$(running_pid)"; then
        # Started by an earlier run (maybe a moment ago, by a parallel one): wait until it answers.
        wait_until_answering 20 "$pid" && return 0
        tools_log "FerretDB (pid $pid) runs but does not answer on $ADDR; see $LOG_FILE, or: $0 --stop"
        return 1
    fi
    if answers; then
        tools_log "something else already answers on $ADDR: set RETAIL_DEPLOY_FERRETDB_PORT to a free port"
        return 1
    fi
    build_ferretdb
    mkdir -p "$STATE_DIR/data" "$STATE_DIR/state"
    # setsid: its own session, so it outlives this script and the terminal or CI step that ran it.
    setsid "$FERRETDB" --handler=sqlite --sqlite-url="file:$STATE_DIR/data/" --listen-addr="$ADDR" \
        --state-dir="$STATE_DIR/state" --debug-addr=- --telemetry=disable --log-level=warn \
        </dev/null >>"$LOG_FILE" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
    if wait_until_answering 30 "$pid"; then
        tools_log "FerretDB $FERRETDB_VERSION started on $ADDR (pid $pid, data in $STATE_DIR/data)"
        return 0
    fi
    tools_log "FerretDB did not answer on $ADDR; last lines of $LOG_FILE:"
    tail -n 20 "$LOG_FILE" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    return 1
}

mkdir -p "$STATE_DIR"
# One run at a time: parallel first runs would otherwise build twice and start two servers.
exec 9>"$STATE_DIR/lock"
flock 9

case "${1:-}" in
    --stop) stop ;;
    "") start; echo "MONGODB_URI=$URI" ;;
    *) tools_log "usage: $0 [--stop]"; exit 2 ;;
esac
