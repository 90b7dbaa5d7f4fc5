#!/usr/bin/env bash
# A one-node SLURM cluster on this host, to run the workflow's cluster profile for real
# (tests/test_slurm.py, CI). Debian 12; no systemd needed; root (re-runs itself with sudo).
#
#   bash .ci/slurm_cluster.sh start    install slurmctld/slurmd/slurm-client/munge if missing,
#                                      write /etc/slurm/slurm.conf, start the daemons, wait
#                                      until the node is idle
#   bash .ci/slurm_cluster.sh stop     stop the daemons this script started (by their PIDs)
#   bash .ci/slurm_cluster.sh status   sinfo (exit 1 if the controller does not answer)
#
# PIDs and logs are in $CALCIUM_SLURM_DIR (default /tmp/calcium-slurm); the controller's
# state and slurmd's spool are below it. Every step is idempotent: `start` on a running
# cluster only checks it, `stop` on a stopped one does nothing.
set -euo pipefail

STATE_DIR=${CALCIUM_SLURM_DIR:-/tmp/calcium-slurm}
WAIT_S=${CALCIUM_SLURM_WAIT_S:-60}
SLURM_CONF=/etc/slurm/slurm.conf
MUNGE_KEY=/etc/munge/munge.key
MARKER="# Written by .ci/slurm_cluster.sh (calcium-imaging workflow): one-node test cluster."
PACKAGES=(slurmctld slurmd slurm-client munge)
DAEMONS=(munged slurmctld slurmd)

say() { echo "slurm_cluster: $*"; }
die() {
    echo "slurm_cluster: ERROR: $*" >&2
    exit 1
}

if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "must run as root (and sudo is not installed)"
    exec sudo --preserve-env=CALCIUM_SLURM_DIR,CALCIUM_SLURM_WAIT_S bash "$0" "$@"
fi

NODE=$(hostname -s) || die "hostname -s failed"
[[ -n $NODE ]] || die "hostname -s printed nothing"

pid_file() { echo "$STATE_DIR/$1.pid"; }

# PID of a daemon this script started, if that process is still that daemon.
running_pid() {
    local file pid exe
    file=$(pid_file "$1")
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ $exe == "$(daemon_exe "$1")" ]] || return 1
    echo "$pid"
}

daemon_exe() { readlink -f "$(command -v "$1")"; }

install_packages() {
    local missing=0 tool
    for tool in munge munged mungekey slurmctld slurmd sinfo sbatch squeue scontrol; do
        command -v "$tool" >/dev/null || missing=1
    done
    ((missing)) || return 0
    command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian 12"
    say "installing ${PACKAGES[*]}"
    # Keep the packages' init scripts from starting the daemons: this script starts them.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local apt=(apt-get install -y --no-install-recommends "${PACKAGES[@]}") ok=0
    if DEBIAN_FRONTEND=noninteractive "${apt[@]}"; then
        ok=1
    else
        say "apt-get install failed; running apt-get update and trying again"
        if apt-get update && DEBIAN_FRONTEND=noninteractive "${apt[@]}"; then ok=1; fi
    fi
    if ((made_policy)); then
        rm -f "$policy"
        trap - EXIT
    fi
    ((ok)) || die "could not install ${PACKAGES[*]} with apt-get"
    for tool in munge munged slurmctld slurmd sinfo sbatch squeue scontrol; do
        command -v "$tool" >/dev/null || die "$tool is missing after installing ${PACKAGES[*]}"
    done
}

make_munge_key() {
    if [[ ! -s $MUNGE_KEY ]]; then
        say "creating $MUNGE_KEY"
        install -d -o munge -g munge -m 0700 "$(dirname "$MUNGE_KEY")"
        mungekey --create --keyfile="$MUNGE_KEY" 2>/dev/null ||
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none ||
            die "could not create $MUNGE_KEY"
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
}

memory_mb() {
    awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo
}

# slurm.conf for this host. RealMemory a bit below the total, or slurmd (which reports
# the total) would be fine but jobs asking for most of it would be rejected or drain the node.
slurm_conf() {
    local cpus mem real
    cpus=$(nproc)
    mem=$(memory_mb)
    real=$((mem - mem / 20))
    ((mem - real >= 256)) || real=$((mem - 256))
    ((real > 0)) || die "could not determine the memory (MemTotal ${mem} MB)"
    cat <<EOF
$MARKER
# Regenerated on every start; remove it with the packages, or edit this script.
ClusterName=calcium
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
# No cgroups: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# No accounting database: squeue must still list finished jobs while Snakemake polls.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=3600
ReturnToService=2
MailProg=/bin/true
InactiveLimit=0
KillWait=10
Waittime=0
SlurmctldTimeout=120
SlurmdTimeout=300
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$STATE_DIR/slurmctld.daemon.pid
SlurmdPidFile=$STATE_DIR/slurmd.daemon.pid
SlurmctldLogFile=$STATE_DIR/slurmctld.log
SlurmdLogFile=$STATE_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

write_conf() {
    local new
    new=$(slurm_conf) || exit 1
    if [[ -e $SLURM_CONF ]] && ! grep -qxF "$MARKER" "$SLURM_CONF"; then
        die "$SLURM_CONF exists and was not written by this script; not touching a real cluster's configuration (move it away to use the test cluster)"
    fi
    if [[ -e $SLURM_CONF ]] && [[ $(<"$SLURM_CONF") == "$new" ]]; then
        return 1 # unchanged
    fi
    install -d -m 0755 "$(dirname "$SLURM_CONF")"
    printf '%s\n' "$new" >"$SLURM_CONF"
    say "wrote $SLURM_CONF (NodeName=$NODE, CPUs=$(nproc))"
    return 0
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

# start_daemon NAME USER ARGS...: in the background, in its own session, logging to
# $STATE_DIR/NAME.out; its PID in $STATE_DIR/NAME.pid.
start_daemon() {
    local name=$1 user=$2
    shift 2
    local exe
    exe=$(daemon_exe "$name")
    start-stop-daemon --start --background --make-pidfile --pidfile "$(pid_file "$name")" \
        --chuid "$user" --output "$STATE_DIR/$name.out" --exec "$exe" -- "$@" ||
        die "could not start $name (see $STATE_DIR/$name.out)"
    sleep 0.5
    running_pid "$name" >/dev/null || {
        tail -n 20 "$STATE_DIR/$name.out" "$STATE_DIR/$name.log" 2>/dev/null >&2 || true
        die "$name exited right after starting (log above; $STATE_DIR/$name.out)"
    }
    say "started $name (pid $(<"$(pid_file "$name")"))"
}

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n 1; }

show_logs() {
    local name
    for name in slurmctld slurmd; do
        echo "--- last lines of $STATE_DIR/$name.log" >&2
        tail -n 15 "$STATE_DIR/$name.log" >&2 2>/dev/null || true
    done
}

wait_until_idle() {
    local deadline=$((SECONDS + WAIT_S)) state resumed=0
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        case $state in
            idle | mixed | allocated | completing)
                say "node $NODE is $state; partition debug:"
                sinfo
                return 0
                ;;
            down* | drain* | fail*)
                if ((!resumed)); then
                    say "node $NODE is $state; resuming it"
                    scontrol update nodename="$NODE" state=resume || true
                    resumed=1
                fi
                ;;
        esac
        sleep 1
    done
    show_logs
    scontrol show node "$NODE" >&2 2>/dev/null || true
    die "node $NODE not idle after ${WAIT_S}s (state: '${state:-no answer from slurmctld}'); logs in $STATE_DIR"
}

start() {
    install_packages
    make_munge_key
    install -d -m 0755 "$STATE_DIR" "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd"
    local changed=0
    write_conf && changed=1
    if ((changed)) && { running_pid slurmctld >/dev/null || running_pid slurmd >/dev/null; }; then
        say "slurm.conf changed: restarting the SLURM daemons"
        stop_daemon slurmd
        stop_daemon slurmctld
    fi

    if running_pid munged >/dev/null; then
        say "munged already running (pid $(running_pid munged))"
    elif munge_works; then
        say "a munged not started by this script is answering; using it"
    else
        install -d -o munge -g munge -m 0755 /run/munge
        start_daemon munged munge --foreground --force
        local _
        for _ in $(seq 20); do
            munge_works && break
            sleep 0.25
        done
        munge_works || die "munged does not answer (see $STATE_DIR/munged.out, /var/log/munge/munged.log)"
    fi

    if running_pid slurmctld >/dev/null; then
        say "slurmctld already running (pid $(running_pid slurmctld))"
    else
        start_daemon slurmctld root -D
    fi
    if running_pid slurmd >/dev/null; then
        say "slurmd already running (pid $(running_pid slurmd))"
    else
        start_daemon slurmd root -D -N "$NODE"
    fi
    wait_until_idle
}

stop_daemon() {
    local name=$1 pid
    if pid=$(running_pid "$name"); then
        start-stop-daemon --stop --quiet --pid "$pid" --retry TERM/15/KILL/5 ||
            die "could not stop $name (pid $pid)"
        say "stopped $name (pid $pid)"
    fi
    rm -f "$(pid_file "$name")"
}

stop() {
    local name
    for name in slurmd slurmctld munged; do
        if command -v "$name" >/dev/null; then
            stop_daemon "$name"
        else
            rm -f "$(pid_file "$name")"
        fi
    done
    say "stopped"
}

status() {
    local name pid
    for name in "${DAEMONS[@]}"; do
        if command -v "$name" >/dev/null && pid=$(running_pid "$name"); then
            say "$name running (pid $pid)"
        else
            say "$name not running"
        fi
    done
    command -v sinfo >/dev/null || die "sinfo not found: SLURM is not installed (run: $0 start)"
    sinfo || die "sinfo failed: no controller answering"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
