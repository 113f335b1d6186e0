#!/usr/bin/env bash
# A Slurm cluster for the tests (tests/slurm, label slurm): its own munged
# (own key), slurmctld and slurmd(s), with everything they write inside
# STATE_DIR (slurm.conf, key, sockets, spool, saved state, pid and log files).
# One node on loopback, or NODES nodes, each a network namespace of its own.
#
#   cluster.sh start  STATE_DIR [NODES]
#                                 stop anything left in STATE_DIR, wipe it,
#                                 write the config, start the daemons, wait
#                                 until `sinfo` shows the node(s) idle (60 s)
#   cluster.sh stop   STATE_DIR   cancel every job, stop the daemons (TERM,
#                                 then KILL), kill whatever they left; the
#                                 logs stay for reading
#   cluster.sh status STATE_DIR   daemons, node and queue; 0 when it is up
#   cluster.sh env    STATE_DIR   `export SLURM_CONF=...` for eval
#   cluster.sh logs   STATE_DIR   the tails of the daemons' logs
#   cluster.sh on     STATE_DIR NODE CMD...
#                                 (NODES >= 2) run CMD in NODE's namespace
#                                 (head, node1, node2, ...; nodeN with its
#                                 host name nodeN)
#   cluster.sh link   STATE_DIR NODE up|down
#                                 (NODES >= 2) NODE's link to the others
#   cluster.sh node-kill STATE_DIR NODE
#                                 (NODES >= 2) SIGKILL everything in NODE's
#                                 namespace (slurmd, steps, tasks): node loss
#   cluster.sh node-up STATE_DIR NODE
#                                 (NODES >= 2) start NODE's slurmd again
#                                 (after a test killed the node), wait for it
#
# NODES >= 2: a private network 10.213.0.0/24 on a bridge of this host
# (which has no address on it), with one namespace per machine, joined to
# the bridge by a veth pair: `head` (10.213.0.1, slurmctld; the tests' own
# commands run there: srun, sbatch, mpirun) and node1..nodeN (10.213.0.1N,
# one `slurmd -N nodeI` each, in a UTS namespace whose host name is nodeI).
# Every daemon listens in its namespace only; munged only on its Unix socket.
# Processes enter a namespace with `nsenter --net` (not `ip netns exec`,
# which remounts /sys and hides the cgroup file system slurmd looks for).
# Namespaces and links are named sr<6 hex of STATE_DIR>-..., so that `stop`
# and `start` remove those an interrupted run left behind.
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
usage() {
    echo "usage: $0 start STATE_DIR [NODES] | stop|status|env|logs STATE_DIR" \
         "| on STATE_DIR NODE CMD... | link STATE_DIR NODE up|down" \
         "| node-kill|node-up STATE_DIR NODE" >&2
    exit 1
}
[ -n "$cmd" ] && [ -n "$state" ] || usage
case "$state" in /*) ;; *) state=$PWD/$state ;; esac
state=${state%/}
conf=$state/slurm.conf
host=$(hostname -s)
# namespaces, bridge and veth names (at most 15 bytes): sr<tag>-...
nsp=sr$(printf %s "$state" | md5sum | cut -c1-6)
subnet=10.213.0
# the number of namespaced nodes of the cluster in STATE_DIR; 0: one node
# on loopback
nodes=$(cat "$state/nodes" 2> /dev/null || echo 0)
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
# ctl CMD...: a client command, in the head namespace when there is one
ctl() {
    if [ "$nodes" -ge 2 ]; then
        SLURM_CONF=$conf nsenter --net=/run/netns/"$nsp-head" "$@"
    else
        SLURM_CONF=$conf "$@"
    fi
}
node_names() {
    local i
    if [ "$nodes" -ge 2 ]; then
        for i in $(seq 1 "$nodes"); do echo "node$i"; done
    else
        echo "$host"
    fi
}
# the slurmd pid file name of each node (without .pid)
slurmd_names() {
    local n
    if [ "$nodes" -ge 2 ]; then
        for n in $(node_names); do echo "slurmd-$n"; done
    else
        echo slurmd
    fi
}
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

# This shell and its ancestors: never killed by stop
self_and_up() {
    local q=$$ skip=" $BASHPID "
    while [ -n "$q" ] && [ "$q" != 0 ] && [ "$q" != 1 ]; do
        skip="$skip$q "
        q=$(awk '/^PPid:/ {print $2}' /proc/"$q"/status 2> /dev/null)
    done
    echo "$skip"
}
# Processes of this cluster (ours): the daemons, slurmstepd, and the tasks
# of the tests, which export the marker; whatever runs in its namespaces.
# Never this shell or its ancestors.
marked() {
    local p skip ns
    skip=$(self_and_up)
    { grep -lzxF "SR_SLURM_STATE=$state" /proc/[0-9]*/environ
      find /proc/[0-9]*/fd -lname "$state/log/*"; } 2> /dev/null \
        | cut -d/ -f3 | sort -u | while read -r p; do
        case "$skip" in *" $p "*) continue ;; esac
        echo "$p"
    done
    for ns in $(our_netns); do
        for p in $(ip netns pids "$ns" 2> /dev/null); do
            case "$skip" in *" $p "*) continue ;; esac
            echo "$p"
        done
    done
}
# The namespaces of this STATE_DIR that exist (of an earlier run too)
our_netns() {
    ip netns list 2> /dev/null | awk '{print $1}' | grep "^$nsp-" || true
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
        ids=$(ctl timeout 10 squeue -h -o %A 2> /dev/null)
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086
            ctl timeout 10 scancel $ids 2> /dev/null
            for _ in $(seq 1 100); do  # 10 s for the jobs to end
                [ -z "$(ctl timeout 10 squeue -h -o %A 2> /dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    pids=""
    for p in $(slurmd_names) slurmctld; do
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
    net_down || rc=1
    return $rc
}

# The namespaces, bridge and veth pairs (NODES >= 2): head and node1..N
net_up() {
    local i ns a
    ip link add "$nsp-br" type bridge && ip link set "$nsp-br" up || return 1
    for i in head $(seq 1 "$nodes"); do
        if [ "$i" = head ]; then ns=$nsp-head a=$subnet.1
        else ns=$nsp-node$i a=$subnet.$((10 + i)); fi
        ip netns add "$ns" &&
        ip link add "$nsp-$i" type veth peer name "$nsp-$i-p" &&
        ip link set "$nsp-$i-p" netns "$ns" &&
        ip -n "$ns" link set "$nsp-$i-p" name eth0 &&
        ip -n "$ns" addr add "$a/24" dev eth0 &&
        ip -n "$ns" link set lo up &&
        ip -n "$ns" link set eth0 up &&
        ip link set "$nsp-$i" master "$nsp-br" &&
        ip link set "$nsp-$i" up || { err "cannot set up namespace $ns"; return 1; }
    done
}

# Remove what net_up made, of this run or an earlier one; 1 when some stays
net_down() {
    local ns l rc=0
    for ns in $(our_netns); do
        ip netns delete "$ns" 2> /dev/null || { err "cannot delete namespace $ns"; rc=1; }
    done
    # deleting a namespace deletes its veth ends, and so their peers
    for l in $(ip -o link show 2> /dev/null | awk -F': ' '{print $2}' \
               | cut -d@ -f1 | grep "^$nsp-"); do
        ip link del "$l" 2> /dev/null
    done
    if ip -o link show 2> /dev/null | grep -q ": $nsp-"; then
        err "links left: $(ip -o link show | awk -F': ' '{print $2}' | grep "^$nsp-" | tr '\n' ' ')"
        rc=1
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
    local cpus mem user ports p1 p2 i ctld_addr=127.0.0.1 per_node="" \
          slurmd_timeout=60
    if [ "$nodes" -ge 2 ]; then
        ctld_addr=$subnet.1
        per_node=-%n
        # a lost node is declared DOWN (its jobs NODE_FAIL) after 20 s
        slurmd_timeout=20
    fi
    cpus=$(nproc)
    # 2 tasks per test job: claim 2 CPUs on a 1-CPU machine (config_overrides);
    # namespaced nodes: 4 each (one node takes the 4 ranks the 2 x 2 tests
    # compare with)
    [ "$cpus" -ge 2 ] || cpus=2
    [ "$nodes" -lt 2 ] || [ "$cpus" -ge 4 ] || cpus=4
    # MiB, with a margin: more than slurmd measures would drain the node
    mem=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    user=$(id -un)
    if [ "$nodes" -ge 2 ]; then
        # each daemon in a namespace of its own: the usual ports
        p1=6817 p2=6818
    else
        ports=$(free_ports) || return 1
        p1=${ports% *}
        p2=${ports#* }
    fi
    cat > "$conf" << EOF
# Written by tests/slurm/cluster.sh for $state
ClusterName=srtest
SlurmctldHost=$host($ctld_addr)
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
SlurmdSpoolDir=$run/spool$per_node
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd$per_node.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd$per_node.log
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
SlurmdTimeout=$slurmd_timeout
MailProg=/bin/true
EOF
    if [ "$nodes" -ge 2 ]; then
        for i in $(seq 1 "$nodes"); do
            echo "NodeName=node$i NodeAddr=$subnet.$((10 + i)) CPUs=$cpus RealMemory=$mem State=UNKNOWN"
        done >> "$conf"
        echo "PartitionName=test Nodes=node[1-$nodes] Default=YES MaxTime=INFINITE State=UP" >> "$conf"
    else
        cat >> "$conf" << EOF
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    fi
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

# node_state [NODE]: sinfo's short state of NODE (default: the first)
node_state() {
    ctl timeout 10 sinfo -h -N -n "${1:-$(node_names | head -1)}" -o %t \
        2> /dev/null | head -1
}

# in_node NODE CMD...: CMD in NODE's network namespace, with the host name
# NODE and a node-local TmpFS (the pmix plugin's per-step directories there
# have the same names on every node): $run/tmp-NODE bound on $run/tmp in a
# mount namespace of its own; replaces this shell
in_node() {
    local n=$1
    shift
    mkdir -p "$run/tmp-$n" || return 1
    exec nsenter --net=/run/netns/"$nsp-$n" unshare --uts --mount sh -c \
        'hostname "$0" && mount --bind "$1-$0" "$1" && shift && exec "$@"' \
        "$n" "$run/tmp" "$@"
}

# start_slurmd NODE: NODE's slurmd in the background ($! its pid)
start_slurmd() {
    mkdir -p "$run/spool-$1"
    SR_SLURM_STATE=$state SLURM_CONF=$conf setsid bash "$0" on "$state" \
        "$1" slurmd -D -N "$1" -f "$conf" \
        < /dev/null >> "$state/log/slurmd-$1.out" 2>&1 &
}

# node_up NODE: start NODE's slurmd again (a test killed it), wait until the
# node is idle or allocated (60 s); 0 up, 1 not
node_up() {
    local i s p
    p=$(pid_of "slurmd-$1")
    alive "$p" && { err "slurmd of $1 is running (pid $p)"; return 1; }
    # as a replaced node: an empty spool and TmpFS (the pmix plugin does
    # not start a requeued job's step when the lost step of the same id
    # left its directory and socket there)
    rm -rf "$run/spool-$1" "$run/tmp-$1"
    start_slurmd "$1"
    p=$!
    for i in $(seq 1 600); do
        alive "$p" || { err "slurmd of $1 exited"; return 1; }
        s=$(node_state "$1")
        case "$s" in idle|mix|alloc*) say "$1 up ($s)"; return 0 ;; esac
        sleep 0.1
    done
    err "$1 is not up after 60 s (${s:-no answer})"
    return 1
}

# launch: slurmctld and slurmd(s), then wait for the nodes; 0 idle, 1 not
launch() {
    local i ctld slurmd n s all
    local -a slurmds=()
    # -D (foreground) under setsid: no fd of this shell stays open (ctest
    # waits for its output pipes), and the pid is known at once (ip netns
    # exec, unshare and sh -c exec the daemon in place)
    if [ "$nodes" -ge 2 ]; then
        SR_SLURM_STATE=$state SLURM_CONF=$conf setsid nsenter --net=/run/netns/"$nsp-head" \
            slurmctld -D -c -f "$conf" < /dev/null > "$state/log/slurmctld.out" 2>&1 &
        ctld=$!
        for n in $(node_names); do
            start_slurmd "$n"
            slurmds+=($!)
        done
    else
        SR_SLURM_STATE=$state SLURM_CONF=$conf setsid slurmctld -D -c -f "$conf" \
            < /dev/null > "$state/log/slurmctld.out" 2>&1 &
        ctld=$!
        SR_SLURM_STATE=$state SLURM_CONF=$conf setsid slurmd -D -N "$host" -f "$conf" \
            < /dev/null > "$state/log/slurmd.out" 2>&1 &
        slurmds+=($!)
    fi
    for i in $(seq 1 600); do  # 60 s
        alive "$ctld" || { why="slurmctld exited"; return 1; }
        for slurmd in "${slurmds[@]}"; do
            alive "$slurmd" || { why="slurmd (pid $slurmd) exited"; return 1; }
        done
        all=idle why=""
        for n in $(node_names); do
            s=$(node_state "$n")
            why="$why $n ${s:-?}"
            case "$s" in
            idle) ;;
            drain*|down*|fail*|inval*)
                all=no
                [ "$i" -gt 100 ] && return 1 ;;  # 10 s to leave start-up
            *)  all=no ;;
            esac
        done
        [ "$all" = idle ] && return 0
        sleep 0.1
    done
    why="not idle after 60 s (${why:-no answer from slurmctld})"
    return 1
}

do_start() {
    local try t why="" want=${1:-0}
    case "$want" in
    0|1) want=0 ;;
    [2-9]) ;;
    *) err "NODES must be 1 to 9, not '$want'"; exit 1 ;;
    esac
    check_tools
    if [ "$want" -ge 2 ]; then
        for t in ip unshare nsenter; do
            command -v $t > /dev/null 2>&1 || cannot_run "missing $t:" \
                "install-deps.sh installs iproute2 and util-linux"
        done
    fi
    for try in 1 2 3; do
        do_stop > /dev/null 2>&1 || true
        if [ -n "$(marked)" ]; then
            err "processes of an earlier cluster in $state survive: $(marked | tr '\n' ' ')"
            exit 1
        fi
        net_down || exit 1
        rm -rf "$state" "$run"
        mkdir -p "$state/log" "$state/ctld" "$run/spool" "$run/tmp" || exit 1
        nodes=$want
        echo "$nodes" > "$state/nodes"
        if [ "$nodes" -ge 2 ]; then
            net_up || { do_stop >&2; exit 1; }
        fi
        write_conf || { err "cannot write $conf"; exit 1; }
        start_munged || { logs >&2; do_stop >&2; exit 1; }
        if launch; then
            say "up: $(node_names | tr '\n' ' ')idle ($(grep -o 'CPUs=[0-9]*' "$conf" | head -1) each), SLURM_CONF=$conf"
            return 0
        fi
        # a port taken between choosing and binding it: again, new ports
        grep -qi "address already in use" "$state"/log/*.out "$state"/log/*.log \
            2> /dev/null || break
        err "try $try: a port was taken ($why); again with other ports"
    done
    err "the node(s) did not come up: $why"
    ctl timeout 10 scontrol show node >&2 2>&1
    logs >&2
    do_stop >&2
    exit 1
}

do_status() {
    local p n rc=0
    for n in munged slurmctld $(slurmd_names); do
        p=$(pid_of $n)
        if alive "$p"; then echo "$n: pid $p"; else echo "$n: not running"; rc=1; fi
    done
    [ -f "$conf" ] || { echo "no $conf"; return 1; }
    ctl timeout 10 sinfo -N -l || rc=1
    ctl timeout 10 squeue || rc=1
    for n in $(node_names); do
        case "$(node_state "$n")" in idle|mix|alloc) ;; *) rc=1 ;; esac
    done
    return $rc
}

need_nodes() {
    [ "$nodes" -ge 2 ] || { err "$state: not a cluster of namespaced nodes"; exit 1; }
}
# the namespace of NODE (head or node1..N); nothing when there is none
ns_of() {
    case "$1" in
    head) echo "$nsp-head" ;;
    node[1-9]) [ "${1#node}" -le "$nodes" ] && echo "$nsp-$1" ;;
    esac
    return 0
}

case "$cmd" in
start)  do_start "${3:-0}" ;;
stop)   do_stop && say "stopped ($state)" ;;
status) do_status ;;
env)    echo "export SLURM_CONF='$conf'" ;;
logs)   logs ;;
on)     need_nodes
        [ $# -ge 4 ] || usage
        ns=$(ns_of "$3")
        [ -n "$ns" ] || { err "no node '$3' (head, node1..node$nodes)"; exit 1; }
        node=$3
        shift 3
        if [ "$node" = head ]; then exec nsenter --net=/run/netns/"$ns" "$@"; fi
        in_node "$node" "$@" ;;
node-up) need_nodes
        [ $# -eq 3 ] && [ -n "$(ns_of "$3")" ] && [ "$3" != head ] \
            || { err "no node '${3:-}' (node1..node$nodes)"; exit 1; }
        node_up "$3" ;;
node-kill) need_nodes
        [ $# -eq 3 ] && [ -n "$(ns_of "$3")" ] && [ "$3" != head ] \
            || { err "no node '${3:-}' (node1..node$nodes)"; exit 1; }
        # SIGKILL to everything in NODE's namespace (its slurmd, slurmstepd,
        # the tasks): the node is lost
        pids=$(ip netns pids "$nsp-$3" | tr '\n' ' ')
        [ -n "$pids" ] || { err "nothing runs on $3"; exit 1; }
        # shellcheck disable=SC2086
        kill -KILL $pids && say "$3 lost: SIGKILL to $pids" ;;
link)   need_nodes
        [ $# -eq 4 ] && { [ "$4" = up ] || [ "$4" = down ]; } || usage
        [ -n "$(ns_of "$3")" ] && [ "$3" != head ] \
            || { err "no node '$3' (node1..node$nodes)"; exit 1; }
        # inside the node (its end of the veth pair): works from any
        # namespace, the head's included
        ip -n "$nsp-$3" link set eth0 "$4" ;;
*)      usage ;;
esac
