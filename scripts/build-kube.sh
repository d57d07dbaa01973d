#!/usr/bin/env bash
# Build the real Kubernetes control plane the test suite runs, from published Go modules:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
#   kwok (simulated nodes: no container runs here)                    (sigs.k8s.io/kwok)
#   helm (official static build, from a PyPI wheel's layer zip)
#   metrics-server (`kubectl top`, reading kwok's resource metrics)    (sigs.k8s.io/metrics-server)
# Prints the bin directory of each, one per line, in that order (kube, etcd, kwok, helm,
# metrics-server); kwok's directory also holds crd/, the CRDs of its module (kube-up.sh applies
# the kinds it enables with --enable-crds). Builds only what the cache lacks
# (scripts/lib/tools.sh: cached outside the clone by version); the first cold run takes
# 20-30 minutes on 2 cores, later runs a second.
set -euo pipefail
TOOLS_SCRIPT=build-kube
source "$(dirname "$0")/lib/tools.sh"

command -v go >/dev/null || { tools_log "go not found (install Go >= 1.24)"; exit 1; }

# k8s.io/kubernetes replaces its staging modules (k8s.io/api, client-go, ...) with local paths,
# so it cannot be built with `go install`. The wrapper points each at its published v0.X.Y,
# generated from the upstream go.mod of this very version (the list changes between minors).
kube_dir="$TOOLS_CACHE/kubernetes-$KUBE_VERSION"
if [ ! -x "$kube_dir/bin/kube-apiserver" ]; then
    upstream_mod="$(GOFLAGS= go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    staging_version="v0.${KUBE_VERSION#v1.}"
    gomod="module retaildeploy.local/kube-build
$(grep -E '^(go|godebug) ' "$upstream_mod")
require k8s.io/kubernetes $KUBE_VERSION
replace (
$(sed -n "s|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*|	\1 => \1 $staging_version|p" "$upstream_mod")
)"
    minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
    ldflags="-s -w"
    # Unstamped binaries report v0.0.0-master, which breaks kubectl's and Helm's version checks.
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags="$ldflags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    done
    go_wrapper_build "Kubernetes $KUBE_VERSION" "$kube_dir" "$gomod" "$ldflags" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
fi
echo "$kube_dir/bin"

# etcd's server module also carries replace directives (api, client, pkg): same treatment.
etcd_dir="$TOOLS_CACHE/etcd-$ETCD_VERSION"
if [ ! -x "$etcd_dir/bin/etcd" ]; then
    upstream_mod="$(GOFLAGS= go mod download -json "go.etcd.io/etcd/server/v3@$ETCD_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    gomod="module retaildeploy.local/etcd-build
$(grep -E '^go ' "$upstream_mod")
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
replace (
$(sed -n "s|^[[:space:]]*\(go.etcd.io/etcd/[a-z0-9/]*\) => \.\./.*|	\1 => \1 $ETCD_VERSION|p" "$upstream_mod")
)"
    go_wrapper_build "etcd $ETCD_VERSION" "$etcd_dir" "$gomod" "-s -w" go.etcd.io/etcd/server/v3
    # `go build` names the binary after the last path element that is not a major version
    # suffix (`server`, not `v3`): give it its real name.
    mv "$etcd_dir/bin/server" "$etcd_dir/bin/etcd"
fi
echo "$etcd_dir/bin"

kwok_dir="$TOOLS_CACHE/kwok-$KWOK_VERSION"
if [ ! -x "$kwok_dir/bin/kwok" ]; then
    tools_log "building kwok $KWOK_VERSION"
    mkdir -p "$kwok_dir.tmp/bin"
    GOBIN="$kwok_dir.tmp/bin" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS= \
        go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    rm -rf "$kwok_dir" && mv "$kwok_dir.tmp" "$kwok_dir"
fi
# kwok-controller does not install its CRDs: take them from the very module version built (a cache
# made before this step lacks them: added once, from the module cache or the Go module proxy).
if [ ! -f "$kwok_dir/crd/kwok.x-k8s.io_logs.yaml" ]; then
    kwok_src="$(GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
    rm -rf "$kwok_dir/crd.tmp" && mkdir -p "$kwok_dir/crd.tmp"
    cp "$kwok_src"/kustomize/crd/bases/kwok.x-k8s.io_*.yaml "$kwok_dir/crd.tmp/"
    chmod 644 "$kwok_dir"/crd.tmp/*.yaml
    rm -rf "$kwok_dir/crd" && mv "$kwok_dir/crd.tmp" "$kwok_dir/crd"
fi
echo "$kwok_dir/bin"

# helm (and a kubectl kube-up.sh does not use): the official static builds (lib/tools.sh).
wheel_cli_tools

# metrics-server's module has no replace directives: a plain `go install`, stamped like its Makefile.
metrics_dir="$TOOLS_CACHE/metrics-server-$METRICS_SERVER_VERSION"
if [ ! -x "$metrics_dir/bin/metrics-server" ]; then
    tools_log "building metrics-server $METRICS_SERVER_VERSION (first run on this machine; cached in $metrics_dir afterwards)"
    started=$SECONDS
    rm -rf "$metrics_dir.tmp" && mkdir -p "$metrics_dir.tmp/bin"
    GOBIN="$metrics_dir.tmp/bin" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS= \
        go install -trimpath -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION" \
        "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
    rm -rf "$metrics_dir" && mv "$metrics_dir.tmp" "$metrics_dir"
    tools_log "built metrics-server $METRICS_SERVER_VERSION in $((SECONDS - started)) s"
fi
echo "$metrics_dir/bin"
