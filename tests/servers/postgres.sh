#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the store tests,
# installing Debian's postgresql package first when it is missing.
#
#     tests/servers/postgres.sh PORT DIR
#
# The cluster lives in DIR (created by the caller, removed by the caller),
# trusts local connections for the user `phiscan`, and listens on
# 127.0.0.1:PORT and a socket in DIR. The server replaces this script's
# process (exec); send it SIGINT for a fast shutdown.
set -euo pipefail

port="${1:?usage: postgres.sh PORT DIR}"
dir="${2:?usage: postgres.sh PORT DIR}"

bin=""
for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/postgres" ] && bin="$candidate"
done
if [ -z "$bin" ]; then
    echo "postgres.sh: installing postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    for candidate in /usr/lib/postgresql/*/bin; do
        [ -x "$candidate/postgres" ] && bin="$candidate"
    done
fi

# PostgreSQL refuses to run as root; run it as the package's own account.
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    run_as=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

"${run_as[@]}" "$bin/initdb" -D "$dir/data" -U phiscan -A trust --no-sync -E UTF8 >/dev/null
exec "${run_as[@]}" "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off
