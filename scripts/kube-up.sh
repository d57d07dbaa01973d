#!/usr/bin/env bash
# Start (or reuse) the real Kubernetes control plane the test suite runs, on 127.0.0.1 only:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (simulated nodes: no
# container can run here, kwok writes the pod and node status a kubelet would write; see
# scripts/lib/kwok-stages.yaml for what becomes Ready and the image-tag rules `never-ready`,
# `crashloop` and `log-errors`). kwok also answers the kubelet API on 127.0.0.1: container logs
# (files that scripts/lib/kwok-kubelet.py writes per pod), `--previous` logs, attach, exec (runs
# the command on this machine), port-forward (to 127.0.0.1, same port) and resource metrics, which
# metrics-server serves to `kubectl top` (usage from pod annotations: scripts/lib/kwok-kubelet.yaml).
#
# Nothing leaves loopback: every component listens on 127.0.0.1 and is given addresses, never a
# name to resolve; a node's one address is its InternalIP 127.0.0.1, which the API server and
# metrics-server prefer (--kubelet-preferred-address-types=InternalIP).
#
#   scripts/kube-up.sh            start, or reuse a running healthy one (idempotent)
#   scripts/kube-up.sh --down     stop it (scripts/kube-down.sh does the same)
#   eval "$(scripts/kube-up.sh | tail -n1)"   # -> KUBECONFIG=<admin kubeconfig>
#
# The admin kubeconfig has contexts `admin` (current), `retail-staging` (namespace staging) and
# `retail-production` (namespace production), all on this one cluster. The real kubectl and helm
# are linked into .venv/bin. State (certificates, etcd data, logs, pids) lives in
# $RETAIL_DEPLOY_KUBE_DIR (default /var/lib/retail-deploy/kube). The last stdout line is
# `KUBECONFIG=<path>`; progress goes to stderr.
set -euo pipefail
TOOLS_SCRIPT=kube-up
cd "$(dirname "$0")/.."
source scripts/lib/tools.sh

STATE="${RETAIL_DEPLOY_KUBE_DIR:-/var/lib/retail-deploy/kube}"
# Loopback ports, unusual enough not to meet the other services the suite starts.
ETCD_PORT="${RETAIL_DEPLOY_KUBE_ETCD_PORT:-23791}"
ETCD_PEER_PORT=$((ETCD_PORT + 1))
API_PORT="${RETAIL_DEPLOY_KUBE_API_PORT:-26443}"
# Next to the API server's by default (26450, 26451), so an instance given only another API port
# (a second one, a benchmark) meets no other instance's ports.
KWOK_PORT="${RETAIL_DEPLOY_KUBE_KWOK_PORT:-$((API_PORT + 7))}"        # kwok's kubelet API (every node's kubelet port)
METRICS_PORT="${RETAIL_DEPLOY_KUBE_METRICS_PORT:-$((API_PORT + 8))}"  # metrics-server (the metrics.k8s.io API)
# Service IPs are never contacted (no kube-proxy); a benchmarking range (RFC 2544), not a private one.
SERVICE_CIDR="198.19.0.0/16"
POD_CIDR="198.18.0.0/16"
NODES="${RETAIL_DEPLOY_KUBE_NODES:-3}"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kwok-kubelet metrics-server)
KUBECONFIG_PATH="$STATE/admin.kubeconfig"

mkdir -p "$STATE/pki" "$STATE/logs" "$STATE/run"
exec 9>"$STATE/.lock"
flock -w 1800 9 || { tools_log "another kube-up holds $STATE/.lock"; exit 1; }  # one at a time (a cold build takes long)

pid_alive() {  # a zombie (killed, not yet reaped by whoever adopted it) is not alive
    local f="$STATE/run/$1.pid" stat
    [ -f "$f" ] && stat="$(ps -o stat= -p "$(cat "$f")")" && [ "${stat:0:1}" != Z ]
}

stop_all() {
    local c pid i
    for c in metrics-server kwok-kubelet kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
        [ -f "$STATE/run/$c.pid" ] || continue
        pid="$(cat "$STATE/run/$c.pid")"
        if pid_alive "$c"; then
            kill "$pid" 2>/dev/null || true
            for i in $(seq 50); do pid_alive "$c" || break; sleep 0.1; done
            pid_alive "$c" && kill -9 "$pid" 2>/dev/null
        fi
        rm -f "$STATE/run/$c.pid"
    done
}

if [ "${1:-}" = "--down" ]; then
    stop_all
    tools_log "stopped the control plane in $STATE"
    exit 0
fi

bins="$(bash scripts/build-kube.sh)"
kube_bin="$(sed -n 1p <<<"$bins")"; etcd_bin="$(sed -n 2p <<<"$bins")"
kwok_bin="$(sed -n 3p <<<"$bins")"; helm_bin="$(sed -n 4p <<<"$bins")"
metrics_bin="$(sed -n 5p <<<"$bins")"
kubectl() { "$kube_bin/kubectl" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=5s "$@"; }

# The real kubectl and helm beside the state (the test fixtures find them there) and where the
# project's tools are.
mkdir -p "$STATE/bin"
ln -sf "$kube_bin/kubectl" "$STATE/bin/kubectl"
ln -sf "$helm_bin/helm" "$STATE/bin/helm"
if [ -d .venv/bin ]; then
    ln -sf "$kube_bin/kubectl" .venv/bin/kubectl
    ln -sf "$helm_bin/helm" .venv/bin/helm
else
    tools_log "no .venv here (scripts/bootstrap-python.sh): kubectl and helm stay in $kube_bin and $helm_bin"
fi

healthy() {
    local c
    for c in "${COMPONENTS[@]}"; do pid_alive "$c" || return 1; done
    [ -f "$KUBECONFIG_PATH" ] && kubectl get --raw /readyz >/dev/null 2>&1
}

if healthy; then
    tools_log "reusing the running control plane ($STATE)"
    echo "KUBECONFIG=$KUBECONFIG_PATH"
    exit 0
fi
stop_all  # whatever is left of an earlier one (a crashed component, a reboot)

# --- certificates: a CA of our own, serving and client certificates, the service-account keys
pki="$STATE/pki"
if [ ! -f "$pki/admin.crt" ]; then
    tools_log "generating certificates in $pki"
    rm -rf "$pki" && mkdir -p "$pki"
    (
        cd "$pki"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
            -subj "/CN=retail-deploy-test-ca" 2>/dev/null
        issue() {  # NAME SUBJECT [SUBJECT-ALT-NAMES]
            openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
            local ext="extendedKeyUsage=clientAuth"
            [ -n "${3:-}" ] && ext="extendedKeyUsage=serverAuth
subjectAltName=$3"
            openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
                -out "$1.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
            rm -f "$1.csr"
        }
        issue apiserver "/CN=kube-apiserver" \
            "IP:127.0.0.1,IP:198.19.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
        issue admin "/O=system:masters/CN=retail-deploy-admin"
        openssl genrsa -out sa.key 2048 2>/dev/null
        openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    )
fi
# The aggregation layer (metrics.k8s.io): the API server proxies to metrics-server as
# front-proxy-client, whose CA metrics-server trusts for the user it names.
if [ ! -f "$pki/front-proxy-client.crt" ]; then
    (
        cd "$pki"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout front-proxy-ca.key -out front-proxy-ca.crt \
            -subj "/CN=retail-deploy-front-proxy-ca" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout front-proxy-client.key -out front-proxy-client.csr \
            -subj "/CN=front-proxy-client" 2>/dev/null
        openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt -CAkey front-proxy-ca.key \
            -CAcreateserial -days 3650 -out front-proxy-client.crt \
            -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
        rm -f front-proxy-client.csr
    )
fi

b64() { base64 -w0 "$1"; }
cat >"$KUBECONFIG_PATH.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: retail-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: admin
  context: {cluster: retail-test, user: admin, namespace: default}
- name: retail-staging
  context: {cluster: retail-test, user: admin, namespace: staging}
- name: retail-production
  context: {cluster: retail-test, user: admin, namespace: production}
current-context: admin
EOF
mv "$KUBECONFIG_PATH.tmp" "$KUBECONFIG_PATH"
chmod 600 "$KUBECONFIG_PATH"

start() {  # NAME ARGV...: in its own session, in the background, logging to the state dir
    local name="$1"
    shift
    setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null 9>&- &  # 9: the lock, not theirs to hold
    echo $! >"$STATE/run/$name.pid"
}

wait_for() {  # WHAT SECONDS COMMAND...
    local what="$1" seconds="$2" i
    shift 2
    for i in $(seq $((seconds * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tools_log "$what did not come up within ${seconds}s; logs in $STATE/logs"
    return 1
}

started=$SECONDS
tools_log "starting the control plane in $STATE"
rm -rf "$STATE/etcd"  # a fresh cluster each start; tests make their own namespaces
start etcd "$etcd_bin/etcd" --name retail-test --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "retail-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes=2147483648
wait_for etcd 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver "$kube_bin/kube-apiserver" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --service-cluster-ip-range="$SERVICE_CIDR" --endpoint-reconciler-type=none \
    --client-ca-file="$pki/ca.crt" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --authorization-mode=RBAC --allow-privileged=true \
    --kubelet-preferred-address-types=InternalIP \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key"
wait_for kube-apiserver 120 kubectl get --raw /readyz

start kube-controller-manager "$kube_bin/kube-controller-manager" \
    --kubeconfig="$KUBECONFIG_PATH" --authentication-kubeconfig="$KUBECONFIG_PATH" \
    --authorization-kubeconfig="$KUBECONFIG_PATH" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" --allocate-node-cidrs=false \
    --controllers='*'
start kube-scheduler "$kube_bin/kube-scheduler" \
    --kubeconfig="$KUBECONFIG_PATH" --authentication-kubeconfig="$KUBECONFIG_PATH" \
    --authorization-kubeconfig="$KUBECONFIG_PATH" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false
# The kwok kinds served per pod (kwok-kubelet.py creates them) are CRDs of kwok's own module.
crd_files=() crd_names=()
for crd in logs attaches portforwards; do
    crd_files+=(--filename="$kwok_bin/../crd/kwok.x-k8s.io_$crd.yaml") crd_names+=("crd/$crd.kwok.x-k8s.io")
done
kubectl apply "${crd_files[@]}" >/dev/null
wait_for "kwok's CRDs" 30 kubectl wait --for=condition=Established "${crd_names[@]}" --timeout=1s
# A node's address, where the API server and metrics-server reach its kubelet: kwok's server on
# 127.0.0.1 (self-signed certificate; neither checks a kubelet's certificate here).
start kwok "$kwok_bin/kwok" --kubeconfig="$KUBECONFIG_PATH" \
    --config="$PWD/scripts/lib/kwok-stages.yaml" --config="$PWD/scripts/lib/kwok-kubelet.yaml" \
    --enable-crds=Logs,Attach,PortForward \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr="$POD_CIDR" --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --server-address="127.0.0.1:$KWOK_PORT"
rm -rf "$STATE/pod-logs"
start kwok-kubelet python3 "$PWD/scripts/lib/kwok-kubelet.py" --server "https://127.0.0.1:$API_PORT" \
    --pki "$pki" --logs "$STATE/pod-logs"
start metrics-server "$metrics_bin/metrics-server" \
    --kubeconfig="$KUBECONFIG_PATH" --authentication-kubeconfig="$KUBECONFIG_PATH" \
    --authorization-kubeconfig="$KUBECONFIG_PATH" \
    --bind-address=127.0.0.1 --secure-port="$METRICS_PORT" --cert-dir="$STATE/metrics-server" \
    --kubelet-use-node-status-port --kubelet-insecure-tls --kubelet-preferred-address-types=InternalIP \
    --metric-resolution=10s --kubelet-request-timeout=5s
# metrics.k8s.io through the aggregation layer, to metrics-server's address (an ExternalName
# Service whose name is an IP: nothing to resolve).
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports: [{name: https, port: $METRICS_PORT, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {name: metrics-server, namespace: kube-system, port: $METRICS_PORT}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF

# Simulated nodes, and the namespaces the retail contexts name.
for i in $(seq 0 $((NODES - 1))); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/kwok-node-$i/metrics/resource
  labels: {kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
EOF
done | kubectl apply -f - >/dev/null
kubectl create namespace staging >/dev/null 2>&1 || true
kubectl create namespace production >/dev/null 2>&1 || true
wait_for "a Ready node" 60 kubectl wait --for=condition=Ready node --all --timeout=1s
wait_for "the default service account" 60 kubectl get serviceaccount default --namespace production
for c in "${COMPONENTS[@]}"; do
    pid_alive "$c" || { tools_log "$c exited; see $STATE/logs/$c.log"; tail -5 "$STATE/logs/$c.log" >&2; exit 1; }
done
tools_log "control plane up in $((SECONDS - started)) s (kubectl --kubeconfig $KUBECONFIG_PATH get nodes)"
echo "KUBECONFIG=$KUBECONFIG_PATH"
