#!/bin/sh
# Container entrypoint: serve /www with busybox httpd on $BIND:$PORT (set at `docker run`).
# httpd must not be PID 1 (PID 1 ignores SIGTERM): this shell forwards `docker stop` to it.
httpd -f -p "${BIND:-127.0.0.1}:${PORT:-3000}" -h /www &
child=$!
trap 'kill $child' TERM INT
wait $child
