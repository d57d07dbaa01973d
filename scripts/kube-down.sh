#!/usr/bin/env bash
# Stop the control plane scripts/kube-up.sh started (its state, certificates and logs stay in
# $RETAIL_DEPLOY_KUBE_DIR, default /var/lib/retail-deploy/kube).
exec bash "$(dirname "$0")/kube-up.sh" --down
