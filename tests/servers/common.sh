# Shared by tests/servers/start and tests/servers/stop (sourced, not executed).
# shellcheck shell=bash

# The caller's PATH, kept to find the python3 that runs the tests (pyenv, venv).
CALLER_PATH=${PATH:-}
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
export PATH

PROG=${0##*/}
STATE=${SMTPSHELL_INTEROP_DIR:-/var/tmp/smtpshell-interop}
STATE=${STATE%/}

# Fixed ports (also written to the state file).
SMTP_PORT=10025        # plain SMTP, STARTTLS offered, no AUTH
SMTPS_PORT=10465       # implicit TLS, AUTH required
SUBMISSION_PORT=10587  # STARTTLS required, then AUTH required
DNS_PORT=10053         # authoritative DNS for interop.test and friends, UDP and TCP
OUR_PORTS="$SMTP_PORT $SMTPS_PORT $SUBMISSION_PORT $DNS_PORT"

DOMAIN=interop.test
SERVER_NAME=localhost  # name in the certificate (with IP 127.0.0.1)
MX_NAME=mx.$DOMAIN     # also in the certificate: interop.test's MX in dns/interop.zone

PF_CONF=$STATE/postfix/conf
PF_QUEUE=$STATE/postfix/queue
PF_DATA=$STATE/postfix/data
DC_DIR=$STATE/dovecot
DC_CONF=$DC_DIR/dovecot.conf
DC_PIDFILE=$DC_DIR/run/master.pid
TLS_DIR=$STATE/tls
DNS_DIR=$STATE/dns
DNS_PIDFILE=$DNS_DIR/dns.pid
MAIL_DIR=$STATE/mail
LOG_DIR=$STATE/log
STATE_FILE=$STATE/interop.json

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    if [ -d "$LOG_DIR" ]; then
        printf '%s: logs are in %s/\n' "$PROG" "$LOG_DIR" >&2
    fi
    exit 1
}

require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root: sudo $0"
}

# The state directory ends up in Postfix and Dovecot configuration files and
# must not be writable by anyone else (it holds a root-run configuration).
check_state_path() {
    case $STATE in
        /*) ;;
        *) die "SMTPSHELL_INTEROP_DIR must be an absolute path (got '$STATE')" ;;
    esac
    if ! [[ $STATE =~ ^/[A-Za-z0-9._/-]+$ ]]; then
        die "SMTPSHELL_INTEROP_DIR may only contain letters, digits, '.', '_', '-' and '/' (got '$STATE')"
    fi
    # A unix socket path is limited to 107 bytes (Dovecot's auth socket).
    if [ ${#STATE} -gt 60 ]; then
        die "SMTPSHELL_INTEROP_DIR is too long (max 60 characters): $STATE"
    fi
    if [ -L "$STATE" ]; then
        die "$STATE is a symbolic link; refusing to use it"
    fi
    if [ -e "$STATE" ]; then
        [ -d "$STATE" ] || die "$STATE exists and is not a directory"
        [ "$(stat -c %u "$STATE")" = 0 ] || die "$STATE is not owned by root; remove it first"
    fi
}

# Serialise start/stop runs.
take_lock() {
    exec 9>"$STATE/.lock"
    flock -w 120 9 || die "another start/stop is running (lock $STATE/.lock)"
}

pid_alive() {  # PID EXPECTED-COMM
    [ -n "${1:-}" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

postfix_pid() {
    local pid=
    [ -r "$PF_QUEUE/pid/master.pid" ] && pid=$(tr -dc 0-9 <"$PF_QUEUE/pid/master.pid")
    pid_alive "$pid" master && printf '%s\n' "$pid"
}

dovecot_pid() {
    local pid=
    [ -r "$DC_PIDFILE" ] && pid=$(tr -dc 0-9 <"$DC_PIDFILE")
    pid_alive "$pid" dovecot && printf '%s\n' "$pid"
}

# Our DNS server: a python3 running the copy of dns_responder.py in $DNS_DIR
# (its command name is python3.x, so the command line identifies it).
dns_alive() {  # PID
    [ -n "${1:-}" ] && [ -r "/proc/$1/cmdline" ] &&
        tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$DNS_DIR/dns_responder.py"
}

dns_pid() {
    local pid=
    [ -r "$DNS_PIDFILE" ] && pid=$(tr -dc 0-9 <"$DNS_PIDFILE")
    dns_alive "$pid" && printf '%s\n' "$pid"
}

# Lines of `ss -ltunp` (TCP listeners and bound UDP sockets) for a port on any
# address ("" when free).
port_listeners() {  # PORT
    if command -v ss >/dev/null 2>&1; then
        ss -Hltunp "( sport = :$1 )" 2>/dev/null || true
    elif (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "127.0.0.1:$1 (something accepts connections; install iproute2 for details)"
    fi
}

# Stop our Postfix, Dovecot and DNS server (all at once: Postfix and Dovecot
# take a second or two each).
stop_servers() {
    local ppid dpid npid i
    ppid=$(postfix_pid) || ppid=
    dpid=$(dovecot_pid) || dpid=
    npid=$(dns_pid) || npid=
    if [ -n "$ppid" ]; then
        say "stopping Postfix (master pid $ppid)"
        if [ -f "$PF_CONF/main.cf" ]; then
            postfix -c "$PF_CONF" stop </dev/null 9>&- >>"$LOG_DIR/postfix-control.log" 2>&1 ||
                kill -TERM "$ppid" 2>/dev/null || true
        else
            kill -TERM "$ppid" 2>/dev/null || true
        fi
    fi
    if [ -n "$dpid" ]; then
        say "stopping Dovecot (master pid $dpid)"
        kill -TERM "$dpid" 2>/dev/null || true
    fi
    if [ -n "$npid" ]; then
        say "stopping the DNS server (pid $npid)"
        kill -TERM "$npid" 2>/dev/null || true
    fi
    for i in $(seq 100); do
        pid_alive "$ppid" master || ppid=
        pid_alive "$dpid" dovecot || dpid=
        dns_alive "$npid" || npid=
        if [ -z "$ppid$dpid$npid" ]; then
            rm -f "$DNS_PIDFILE"
            return 0
        fi
        sleep 0.1
    done
    if [ -n "$ppid" ]; then
        warn "Postfix master $ppid did not stop within 10s; killing its process group"
        kill -KILL -- "-$ppid" 2>/dev/null || kill -KILL "$ppid" 2>/dev/null || true
    fi
    if [ -n "$dpid" ]; then
        warn "Dovecot master $dpid did not stop within 10s; killing it"
        kill -KILL "$dpid" 2>/dev/null || true
    fi
    if [ -n "$npid" ]; then
        warn "DNS server $npid did not stop within 10s; killing it"
        kill -KILL "$npid" 2>/dev/null || true
    fi
    rm -f "$DNS_PIDFILE"
    sleep 0.2
}

# Wait until none of our ports is listening; print what still is.
wait_ports_free() {  # SECONDS
    local deadline=$((SECONDS + $1)) port busy
    while :; do
        busy=
        for port in $OUR_PORTS; do
            busy+=$(port_listeners "$port")
        done
        [ -z "$busy" ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            printf '%s\n' "$busy"
            return 1
        fi
        sleep 0.1
    done
}
