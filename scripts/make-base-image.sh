#!/usr/bin/env bash
# Build the local base image (default busybox:1.36) that the example Dockerfiles start FROM.
# No image can be pulled here, so it is a rootfs holding the static busybox from Debian's
# busybox-static and a link for every applet, `docker import`ed under the upstream name:
# the same Dockerfiles then build unchanged on a machine that can pull from Docker Hub.
# Idempotent: does nothing when the image already exists (FORCE=1 rebuilds it).
set -euo pipefail

IMAGE="${BASE_IMAGE:-busybox:1.36}"
BUSYBOX="${BUSYBOX_BINARY:-/bin/busybox}"

if ! docker info >/dev/null 2>&1; then
    echo "make-base-image: the Docker engine is not answering; run scripts/start-docker.sh first" >&2
    exit 1
fi
if [ "${FORCE:-0}" != "1" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "make-base-image: $IMAGE already present"
    exit 0
fi
if [ ! -x "$BUSYBOX" ]; then
    echo "make-base-image: $BUSYBOX not found; install busybox-static (scripts/install-system-deps.sh)" >&2
    exit 1
fi
# A dynamically linked busybox (package 'busybox') would not run in an empty rootfs.
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    echo "make-base-image: $BUSYBOX is dynamically linked; install busybox-static" >&2
    exit 1
fi

ROOTFS="$(mktemp -d)"
trap 'rm -rf "$ROOTFS"' EXIT

mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,var/www,var/run,proc,sys,dev,home}
chmod 1777 "$ROOTFS/tmp"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
# Every applet busybox knows, at its canonical path (bin/sh, usr/bin/wget, sbin/httpd, ...).
"$ROOTFS/bin/busybox" --list-full | while read -r applet; do
    [ "$applet" = "bin/busybox" ] && continue
    mkdir -p "$ROOTFS/$(dirname "$applet")"
    ln -sf /bin/busybox "$ROOTFS/$applet"
done
cat >"$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat >"$ROOTFS/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo "127.0.0.1 localhost" >"$ROOTFS/etc/hosts"

tar -C "$ROOTFS" --numeric-owner --owner=0 --group=0 -cf - . \
    | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["sh"]' \
        - "$IMAGE" >/dev/null
echo "make-base-image: built $IMAGE from $BUSYBOX"
