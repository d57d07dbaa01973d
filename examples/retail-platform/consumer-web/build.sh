#!/bin/sh
# Stand-in for `npm ci && npm run build`: copies the static sources into dist/.
set -eu
cd "$(dirname "$0")"
rm -rf dist && mkdir -p dist && cp -R src/. dist/
