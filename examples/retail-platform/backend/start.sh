#!/bin/sh
# Container entrypoint: serve /www with busybox httpd on $BIND:$PORT (set at `docker run`).
# Without a version baked in at build (--build-arg VERSION), answer the deployed APP_VERSION.
[ -f /www/api/v1/version ] || printf '{"version":"%s"}\n' "${APP_VERSION:-unknown}" > /www/api/v1/version
# httpd must not be PID 1 (PID 1 ignores SIGTERM): this shell forwards `docker stop` to it.
httpd -f -p "${BIND:-127.0.0.1}:${PORT:-8080}" -h /www -c /etc/httpd.conf &
child=$!
trap 'kill $child' TERM INT
wait $child
