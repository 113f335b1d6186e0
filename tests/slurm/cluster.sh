#!/usr/bin/env bash
# A one-node Slurm cluster for the tests (tests/slurm, label slurm): its own
# munged (own key), slurmctld and slurmd, with everything they write inside
# STATE_DIR (slurm.conf, key, sockets, spool, saved state, pid and log files).
#
#   cluster.sh start  STATE_DIR   stop anything left in STATE_DIR, wipe it,
#                                 write the config, start the daemons, wait
#                                 until `sinfo` shows the node idle (60 s)
#   cluster.sh stop   STATE_DIR   cancel every job, stop the daemons (TERM,
#                                 then KILL), kill whatever they left; the
#                                 logs stay for reading
#   cluster.sh status STATE_DIR   daemons, node and queue; 0 when it is up
#   cluster.sh env    STATE_DIR   `export SLURM_CONF=...` for eval
#   cluster.sh logs   STATE_DIR   the tails of the daemons' logs
#
# Client commands find the cluster through SLURM_CONF=STATE_DIR/slurm.conf.
# Needs root (slurmd launches the tasks) and the Debian packages slurmctld,
# slurmd, slurm-client, munge (install-deps.sh). Written for a container
# without cgroup control: proctrack/linuxproc, task/none. Two clusters on one
# host do not clash: each takes two free TCP ports and its own munge socket.
# Every process started here carries SR_SLURM_STATE=STATE_DIR in its
# environment, so `stop` (and the next `start`) also finds daemons whose pid
# files are gone. Exit codes: 0 ok, 1 failure, 77 cannot run here (not root,
# packages missing) unless CI=true, where that is a failure (1).
set -u
cmd=${1:-}
state=${2:-}
usage() { echo "usage: $0 start|stop|status|env|logs STATE_DIR" >&2; exit 1; }
[ -n "$cmd" ] && [ -n "$state" ] || usage
case "$state" in /*) ;; *) state=$PWD/$state ;; esac
state=${state%/}
conf=$state/slurm.conf
host=$(hostname -s)
# Unix sockets (munged's, slurmd's and the pmix plugin's in the spool) must
# have paths under 108 bytes: they live in a short directory under /tmp
# named after STATE_DIR, removed by stop
run=/tmp/sr-slurm-$(printf %s "$state" | md5sum | cut -c1-12)
msock=$run/munge/munge.socket

say() { echo "slurm cluster: $*"; }
err() { echo "slurm cluster: $*" >&2; }

cannot_run() { # cannot run on this machine: skip, but fail in CI
    err "$*"
    [ "${CI:-}" = true ] && exit 1
    exit 77
}

check_tools() {
    local t missing=()
    for t in munged munge unmunge slurmctld slurmd sinfo srun sbatch squeue \
             scontrol scancel python3; do
        command -v "$t" > /dev/null 2>&1 || missing+=("$t")
    done
    [ ${#missing[@]} -eq 0 ] || cannot_run "missing ${missing[*]}:" \
        "install-deps.sh installs slurmctld slurmd slurm-client munge"
    [ "$(id -u)" -eq 0 ] || cannot_run "needs root (slurmd launches tasks" \
        "as the submitting user; a test cluster here runs as root)"
}

logs() {
    local f n
    # *.out: the daemons' stderr (errors before their log file is open)
    for f in "$state"/log/*.log "$state"/log/*.out; do
        [ -s "$f" ] || continue
        case "$f" in *.out) n=6 ;; *) n=25 ;; esac
        echo "---- $f (last $n lines)"
        tail -n $n "$f"
    done
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2> /dev/null; }
# ours PID: started by this cluster (a pid file may be stale, its pid
# reused): the marker in its environment, or, for slurmstepd (which slurmd
# starts with a clean environment), the slurmd log open
ours() {
    [ -n "${1:-}" ] || return 1
    { tr '\0' '\n' < /proc/"$1"/environ; } 2> /dev/null \
        | grep -qxF "SR_SLURM_STATE=$state" && return 0
    ls -l /proc/"$1"/fd 2> /dev/null | grep -qF -- " -> $state/log/"
}
# pid_of NAME: the daemon's pid from its pid file when it is still ours
pid_of() {
    local p
    p=$(cat "$state/$1.pid" 2> /dev/null) && ours "$p" && echo "$p"
}

# Processes of this cluster (ours): the daemons, slurmstepd, and the tasks
# of the tests, which export the marker. Never this shell or its ancestors.
marked() {
    local p me=$$ skip=" $BASHPID " q
    q=$me
    while [ -n "$q" ] && [ "$q" != 0 ] && [ "$q" != 1 ]; do
        skip="$skip$q "
        q=$(awk '/^PPid:/ {print $2}' /proc/"$q"/status 2> /dev/null)
    done
    { grep -lzxF "SR_SLURM_STATE=$state" /proc/[0-9]*/environ
      find /proc/[0-9]*/fd -lname "$state/log/*"; } 2> /dev/null \
        | cut -d/ -f3 | sort -u | while read -r p; do
        case "$skip" in *" $p "*) continue ;; esac
        echo "$p"
    done
}

# wait_gone SECONDS PID...: 0 when every PID has exited in time
wait_gone() {
    local t=$(($1 * 10)) p left
    shift
    while :; do
        left=""
        for p in "$@"; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && return 0
        [ "$t" -le 0 ] && return 1
        sleep 0.1
        t=$((t - 1))
    done
}

do_stop() {
    local ids pids p rc=0
    if [ -f "$conf" ] && alive "$(pid_of slurmctld)"; then
        ids=$(SLURM_CONF=$conf timeout 10 squeue -h -o %A 2> /dev/null)
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086
            SLURM_CONF=$conf timeout 10 scancel $ids 2> /dev/null
            for _ in $(seq 1 100); do  # 10 s for the jobs to end
                [ -z "$(SLURM_CONF=$conf timeout 10 squeue -h -o %A 2> /dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    pids=""
    for p in slurmd slurmctld; do
        p=$(pid_of $p)
        alive "$p" && kill -TERM "$p" 2> /dev/null && pids="$pids $p"
    done
    # shellcheck disable=SC2086
    wait_gone 10 $pids || {
        err "daemons still up after 10 s: SIGKILL"
        # shellcheck disable=SC2086
        kill -KILL $pids 2> /dev/null
    }
    # anything left: slurmstepd, tasks, daemons without pid file, munged
    pids=$(marked | tr '\n' ' ')
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2> /dev/null
        # shellcheck disable=SC2086
        wait_gone 5 $pids || kill -KILL $pids 2> /dev/null
    fi
    p=$(pid_of munged)
    alive "$p" && kill -TERM "$p" 2> /dev/null && { wait_gone 5 "$p" || kill -KILL "$p"; }
    sleep 0.2
    pids=$(marked | tr '\n' ' ')
    if [ -n "$pids" ]; then
        err "processes left after stop: $pids"
        rc=1
    else
        rm -rf "$run"
    fi
    return $rc
}

free_ports() { # two free TCP ports (bound and released; ephemeral range)
    python3 - << 'EOF'
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss:
    s.bind(("", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
EOF
}

write_conf() {
    local cpus mem user ports p1 p2
    cpus=$(nproc)
    # 2 tasks per test job: claim 2 CPUs on a 1-CPU machine (config_overrides)
    [ "$cpus" -ge 2 ] || cpus=2
    # MiB, with a margin: more than slurmd measures would drain the node
    mem=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    user=$(id -un)
    ports=$(free_ports) || return 1
    p1=${ports% *}
    p2=${ports#* }
    cat > "$conf" << EOF
# Written by tests/slurm/cluster.sh for $state
ClusterName=srtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$p1
SlurmdPort=$p2
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# own munged; credentials expire after 10 s so that a requeued job may
# start again ~11 s later (Slurm holds it until the old one expires)
AuthInfo=socket=$msock,cred_expire=10
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$run/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$state/plugstack.conf
TmpFS=$run/tmp
# a container without cgroup control
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
# srun needs --mpi=pmix (or pmi2) explicitly, as on most clusters
MpiDefault=none
# only jobs submitted with --requeue may be requeued
JobRequeue=0
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
MinJobAge=300
InactiveLimit=0
SlurmdTimeout=60
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    : > "$state/plugstack.conf"
}

start_munged() {
    local i
    mkdir -p "$run/munge" && chmod 711 "$run/munge"
    head -c 1024 /dev/urandom > "$run/munge/munge.key" || return 1
    chmod 400 "$run/munge/munge.key"
    # --force: the build tree's parent directories need not pass munged's
    # ownership checks for a throwaway test key
    SR_SLURM_STATE=$state munged --force --key-file="$run/munge/munge.key" \
        --socket="$msock" --pid-file="$state/munged.pid" \
        --seed-file="$run/munge/munged.seed" \
        --log-file="$state/log/munged.log" < /dev/null \
        > "$state/log/munged.out" 2>&1 || { err "munged failed to start"; return 1; }
    for i in $(seq 1 100); do
        munge --socket="$msock" -n 2> /dev/null \
            | unmunge --socket="$msock" > /dev/null 2>&1 \
            && return 0
        sleep 0.1
    done
    err "munged does not answer on $msock after 10 s"
    return 1
}

node_state() {
    SLURM_CONF=$conf timeout 10 sinfo -h -N -n "$host" -o %t 2> /dev/null | head -1
}

# launch: slurmctld and slurmd, then wait for the node; 0 idle, 1 not
launch() {
    local i ctld slurmd
    # -D (foreground) under setsid: no fd of this shell stays open (ctest
    # waits for its output pipes), and the pid is known at once
    SR_SLURM_STATE=$state SLURM_CONF=$conf setsid slurmctld -D -c -f "$conf" \
        < /dev/null > "$state/log/slurmctld.out" 2>&1 &
    ctld=$!
    SR_SLURM_STATE=$state SLURM_CONF=$conf setsid slurmd -D -N "$host" -f "$conf" \
        < /dev/null > "$state/log/slurmd.out" 2>&1 &
    slurmd=$!
    for i in $(seq 1 600); do  # 60 s
        alive "$ctld" || { why="slurmctld exited"; return 1; }
        alive "$slurmd" || { why="slurmd exited"; return 1; }
        why=$(node_state)
        case "$why" in
        idle) return 0 ;;
        drain*|down*|fail*|inval*)
              [ "$i" -gt 100 ] && return 1 ;;  # 10 s to leave start-up
        esac
        sleep 0.1
    done
    why="not idle after 60 s (${why:-no answer from slurmctld})"
    return 1
}

do_start() {
    local try why=""
    check_tools
    for try in 1 2 3; do
        do_stop > /dev/null 2>&1 || true
        if [ -n "$(marked)" ]; then
            err "processes of an earlier cluster in $state survive: $(marked | tr '\n' ' ')"
            exit 1
        fi
        rm -rf "$state" "$run"
        mkdir -p "$state/log" "$state/ctld" "$run/spool" "$run/tmp" || exit 1
        write_conf || { err "cannot write $conf"; exit 1; }
        start_munged || { logs >&2; do_stop >&2; exit 1; }
        if launch; then
            say "up: node $host idle ($(grep -o 'CPUs=[0-9]*' "$conf")), SLURM_CONF=$conf"
            return 0
        fi
        # a port taken between choosing and binding it: again, new ports
        grep -qi "address already in use" "$state"/log/*.out "$state"/log/*.log \
            2> /dev/null || break
        err "try $try: a port was taken ($why); again with other ports"
    done
    err "the node did not come up: $why"
    SLURM_CONF=$conf timeout 10 scontrol show node "$host" >&2 2>&1
    logs >&2
    do_stop >&2
    exit 1
}

do_status() {
    local p n rc=0
    for n in munged slurmctld slurmd; do
        p=$(pid_of $n)
        if alive "$p"; then echo "$n: pid $p"; else echo "$n: not running"; rc=1; fi
    done
    [ -f "$conf" ] || { echo "no $conf"; return 1; }
    SLURM_CONF=$conf timeout 10 sinfo -N -l || rc=1
    SLURM_CONF=$conf timeout 10 squeue || rc=1
    [ "$(node_state)" = idle ] || [ "$(node_state)" = mix ] \
        || [ "$(node_state)" = alloc ] || rc=1
    return $rc
}

case "$cmd" in
start)  do_start ;;
stop)   do_stop && say "stopped ($state)" ;;
status) do_status ;;
env)    echo "export SLURM_CONF='$conf'" ;;
logs)   logs ;;
*)      usage ;;
esac
