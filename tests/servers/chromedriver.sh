#!/usr/bin/env bash
# Starts ChromeDriver on 127.0.0.1 for the HTML report test, installing
# Debian's chromium and chromium-driver packages first when they are missing.
#
#     tests/servers/chromedriver.sh PORT
#
# ChromeDriver listens on the loopback address only and is replaced by this
# script's process (exec), so the test stops it by killing that process.
set -euo pipefail

port="${1:?usage: chromedriver.sh PORT}"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "chromedriver.sh: installing chromium and chromium-driver" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium chromium-driver >&2
fi

exec /usr/bin/chromedriver --port="$port" --allowed-ips=127.0.0.1 --log-level=WARNING
