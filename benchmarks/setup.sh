#!/usr/bin/env sh
# The harness's own set-up: the compiled load generator (wrk, from Debian's packages).
set -e
command -v wrk >/dev/null 2>&1 && exit 0
apt-get update -q && apt-get install -y -q wrk
