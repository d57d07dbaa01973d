#!/usr/bin/env bash
# Build the local Java runtime image (default retail-jre:25) that the example backend's Dockerfile
# starts FROM. No image can be pulled here, so it is made from what the machine has:
#   - a minimal JRE cut by `jlink` from the JDK the backend is built with (RETAIL_JAVA_HOME, default
#     the Temurin JDK 25 of this machine kind; the runbook asks for 21+; only the modules the backend uses:
#     java.base and jdk.httpserver), at /opt/java/openjdk as in the upstream JRE images;
#   - the glibc shared libraries that runtime links against (found with ldd), copied from the host;
#   - on top of the local busybox base (scripts/make-base-image.sh), so the Docker target's
#     in-container health probe (`wget`, /bin/sh) works as in every other example image.
# About 50 MB and 10-20 s to make, against ~120 MB and minutes for a debootstrap rootfs plus
# a JRE (docs/performance.md). Made once per machine: does nothing when the image already exists
# for the same JDK (label org.retail-deploy.jdk); FORCE=1 rebuilds it.
set -euo pipefail

IMAGE="${JRE_IMAGE:-retail-jre:25}"
# The same default as the configs' build steps (config/retail-platform.yaml: JAVA_HOME of ./mvnw).
JAVA_HOME_HOST="${RETAIL_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
BASE="${BASE_IMAGE:-busybox:1.36}"
MODULES="${JRE_MODULES:-java.base,jdk.httpserver}"

say() { printf 'make-jre-image: %s\n' "$*"; }
die() { printf 'make-jre-image: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "the Docker engine is not answering; run scripts/start-docker.sh first"
[ -x "$JAVA_HOME_HOST/bin/jlink" ] \
    || die "no JDK with jlink at $JAVA_HOME_HOST (RETAIL_JAVA_HOME); the backend needs a JDK 21 or later"
JDK_VERSION="$("$JAVA_HOME_HOST/bin/java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.runtime\.version = //p')"
[ "${JDK_VERSION%%[.+]*}" -ge 21 ] 2>/dev/null \
    || die "the JDK at $JAVA_HOME_HOST is ${JDK_VERSION:-unknown}; the backend targets Java 21 (set RETAIL_JAVA_HOME)"
STAMP="$JDK_VERSION $MODULES"

if [ "${FORCE:-0}" != "1" ] \
    && [ "$(docker image inspect --format '{{index .Config.Labels "org.retail-deploy.jdk"}}' "$IMAGE" 2>/dev/null)" = "$STAMP" ]; then
    say "$IMAGE already present (JDK $JDK_VERSION)"
    exit 0
fi
docker image inspect "$BASE" >/dev/null 2>&1 || bash "$(dirname "$0")/make-base-image.sh"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"
JRE="$ROOTFS/opt/java/openjdk"
mkdir -p "$ROOTFS/opt/java" "$ROOTFS/etc"
# A merged-/usr host (Debian 12): /lib and /lib64 are links into /usr, so the libraries are copied once.
for dir in lib lib64; do
    if [ -L "/$dir" ]; then
        mkdir -p "$ROOTFS/usr/$dir"
        ln -s "usr/$dir" "$ROOTFS/$dir"
    fi
done

say "cutting a JRE ($MODULES) from $JAVA_HOME_HOST with jlink"
"$JAVA_HOME_HOST/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files \
    --compress=zip-6 --output "$JRE"
# Class data sharing archive: faster start-up (the JDK's default CDS archive is not in a jlink image).
"$JRE/bin/java" -Xshare:dump >/dev/null 2>&1 || true

# Every shared library an ELF file of the runtime needs, outside the runtime itself, and the loader.
{
    find "$JRE" -type f \( -name '*.so' -o -path '*/bin/*' \) -print0 | xargs -0 ldd 2>/dev/null \
        | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'
    # Loaded by glibc at run time (dlopen), so ldd does not list them: name lookups (/etc/hosts).
    ls /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2 \
       /lib/x86_64-linux-gnu/libresolv.so.2 2>/dev/null
} | sort -u | grep -v "^$JRE" | while read -r lib; do
    cp -L --parents "$lib" "$ROOTFS/"
    # The same file under the canonical path (ld.so's and ldd's may differ: /lib vs /usr/lib).
    real="$(readlink -f "$lib")"
    [ -e "$ROOTFS$real" ] || cp -L --parents "$real" "$ROOTFS/"
done
printf 'hosts: files dns\n' > "$ROOTFS/etc/nsswitch.conf"

cat > "$WORK/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY rootfs/ /
ENV JAVA_HOME=/opt/java/openjdk
ENV PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.retail-deploy.jdk="$STAMP"
DOCKERFILE
say "building $IMAGE on $BASE"
docker build -q -t "$IMAGE" "$WORK" >/dev/null 2>"$WORK/build.log" || { cat "$WORK/build.log" >&2; die "docker build failed"; }
docker run --rm --network none "$IMAGE" java -version >/dev/null 2>&1 \
    || die "$IMAGE was built but \`java -version\` fails in it (missing shared library?)"
say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')), JDK $JDK_VERSION"
