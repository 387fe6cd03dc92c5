#!/usr/bin/env bash
# Start a private Dovecot IMAP server for phiscan's tests, on loopback only.
#
#   tests/servers/dovecot.sh start DIR IMAPS_PORT IMAP_PORT
#   tests/servers/dovecot.sh stop DIR
#
# Everything lives in DIR: the configuration, a test CA and a server
# certificate for 127.0.0.1 and localhost, and the users alice and bob with
# the password in DIR/password. Mail is under DIR/home, sockets under DIR/run
# and the log in DIR/dovecot.log.
# The master process runs as the current user and never reads the system's
# /etc/dovecot. Dovecot refuses to run login and mail processes as root, so
# under root they run as the package's unprivileged users (dovenull, dovecot).
# Installs the Debian packages dovecot-imapd and openssl when missing.
# Prints "ready" once both ports accept connections.
set -euo pipefail
# Name the failed step, because several steps below hide their own output.
trap 'echo "dovecot.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

command=${1:?usage: dovecot.sh start DIR IMAPS_PORT IMAP_PORT | stop DIR}
dir=${2:?missing DIR}

if [ "$command" = stop ]; then
    if [ -f "$dir/dovecot.conf" ]; then
        doveadm -c "$dir/dovecot.conf" stop 2>/dev/null || true
    fi
    exit 0
fi
[ "$command" = start ] || { echo "unknown command $command" >&2; exit 2; }
imaps_port=${3:?missing IMAPS_PORT}
imap_port=${4:?missing IMAP_PORT}

missing_packages() {
    command -v dovecot >/dev/null 2>&1 || echo dovecot-imapd
    command -v openssl >/dev/null 2>&1 || echo openssl
}

install_missing() {
    [ -z "$(missing_packages)" ] && return 0
    # Tests start servers in parallel: one installs, the others wait for it.
    exec 9>"${TMPDIR:-/tmp}/phiscan-dovecot-install.lock"
    flock 9
    local missing
    missing=$(missing_packages)
    if [ -n "$missing" ]; then
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
        # shellcheck disable=SC2086
        $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >/dev/null
    fi
    flock -u 9
}
install_missing

mkdir -p "$dir"/{run,state,home,certs}
dir=$(cd "$dir" && pwd)
if [ "$(id -u)" -eq 0 ]; then
    login_user=dovenull
    user=dovecot
    id "$login_user" >/dev/null 2>&1 || login_user=nobody
    id "$user" >/dev/null 2>&1 || user=nobody
    chown "$user" "$dir/home"
else
    login_user=$(id -un)
    user=$(id -un)
fi
group=$(id -gn "$user")
uid=$(id -u "$user")
gid=$(id -g "$user")
password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" > "$dir/password"
chmod 600 "$dir/password"

certs=$dir/certs
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=phiscan test CA" \
    -keyout "$certs/ca.key" -out "$certs/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$certs/server.key" -out "$certs/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$certs/ext.cnf"
openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -CAcreateserial \
    -days 2 -out "$certs/server.pem" -extfile "$certs/ext.cnf" 2>/dev/null

: > "$dir/users"
for name in alice bob; do
    printf '%s:{PLAIN}%s:%s:%s::%s/home/%s\n' "$name" "$password" "$uid" "$gid" "$dir" "$name" >> "$dir/users"
done

dh=""
[ -f /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"

cat > "$dir/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
instance_name = phiscan-test-$imaps_port
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
default_internal_user = $user
default_internal_group = $group
default_login_user = $login_user
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
mail_privileged_group =
disable_plaintext_auth = no
auth_mechanisms = plain login
ssl = yes
ssl_cert = <$certs/server.pem
ssl_key = <$certs/server.key
$dh
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
}
CONF

# The daemon must not keep the caller's output pipes open, so its startup
# output goes to a file that is printed when it fails.
if ! dovecot -c "$dir/dovecot.conf" </dev/null >"$dir/start.log" 2>&1; then
    echo "dovecot failed to start; its output and log follow" >&2
    cat "$dir/start.log" "$dir/dovecot.log" >&2 2>/dev/null || true
    exit 1
fi

for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$imaps_port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$imap_port") 2>/dev/null; then
        echo ready
        exit 0
    fi
    sleep 0.1
done
echo "dovecot did not open its ports; see $dir/dovecot.log" >&2
cat "$dir/dovecot.log" >&2 || true
exit 1
