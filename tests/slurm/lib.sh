# Shared by the tests/slurm scripts: $SINREQ $MKDS $PY $MPIEXEC $MPI_NP
# $MPI_PRE $BACKEND $CLUSTER $STATE from CTest (CMakeLists.txt). The cluster
# in $STATE was started by the fixture test slurm.cluster_start (one node)
# or slurm.nodes_start (namespaced nodes).
# Namespaced nodes: the script runs again in the cluster's head namespace,
# where slurmctld is and where srun, sbatch and mpirun reach the nodes.
if [ -z "${SR_IN_HEAD:-}" ] && [ "$(id -u)" -eq 0 ] \
   && [ "$(cat "$STATE/nodes" 2> /dev/null || echo 0)" -ge 2 ]; then
    export SR_IN_HEAD=1
    # fd 9: the host's own network namespace, for checks from inside
    exec 9< /proc/self/ns/net
    exec bash "$CLUSTER" on "$STATE" head bash "$0" "$@"
fi
. "$(dirname "$0")/../dist_train/lib.sh"
SL="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$SL/../.." && pwd)"
export SLURM_CONF="$STATE/slurm.conf"
# marks every task started from here: `cluster.sh stop` kills leftovers
export SR_SLURM_STATE="$STATE"
# on failure: the daemons' log tails
finish() {
    [ "$fails" -eq 0 ] && { echo PASS; exit 0; }
    echo "$fails failure(s)"
    bash "$CLUSTER" logs "$STATE"
    exit 1
}
# the cluster must be up (the fixture started it); 77 outside CI when this
# machine cannot run it (as cluster.sh start decided)
command -v srun > /dev/null 2>&1 && [ "$(id -u)" -eq 0 ] || {
    echo "slurm or root missing"; [ "${CI:-}" = true ] && exit 1; exit 77; }
# A node the previous test drained, resumed or loaded can answer a ping
# late: slurmctld shows it "idle*" (not responding), or "down*" after
# SlurmdTimeout, until a later ping gets through; here that came 96 s after
# the node went down. So give the cluster up to 150 s before calling it down.
up_by=$(($(date +%s) + 150))
until bash "$CLUSTER" status "$STATE" > status.txt 2>&1; do
    [ "$(date +%s)" -lt "$up_by" ] \
        || { fail "the test cluster is not up after 150 s: $(cat status.txt)"; finish; }
    sleep 2
done
# job_field JOB FIELD: a field of `scontrol show job`
job_field() { scontrol show job "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# wait_job JOB SECONDS STATE...: until the job is in one of the states
wait_job() {
    local job=$1 t=$(($2 * 2)) s; shift 2
    while [ "$t" -gt 0 ]; do
        s=$(job_field "$job" JobState)
        for w in "$@"; do [ "$s" = "$w" ] && return 0; done
        sleep 0.5; t=$((t - 1))
    done
    echo "job $job still ${s:-unknown} (want $*)"
    return 1
}
# Open MPI between the namespaced nodes: TCP on the test network only (no
# shared memory; what a site without InfiniBand sets, docs/distributed.md)
use_tcp() {
    export OMPI_MCA_pml=ob1 OMPI_MCA_btl=tcp,self \
           OMPI_MCA_btl_tcp_if_include=10.213.0.0/24 \
           OMPI_MCA_oob_tcp_if_include=10.213.0.0/24
}
# rank_nodes RUN N: the node of each of N ranks in RUN/train.log, in order
# (of the last start: a resumed run has a line per rank per start)
rank_nodes() {
    local r
    for r in $(seq 0 $(($2 - 1))); do
        sed -n "s/^rank $r: node \([^,]*\),.*/\1/p" "$1/train.log" | tail -1
    done | tr '\n' ' '
}
