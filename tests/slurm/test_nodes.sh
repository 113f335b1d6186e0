# Two namespaced nodes (cluster.sh start DIR 2), Open MPI over TCP between
# them: `srun -N 2` with 1 and with 2 ranks per node trains bit-identically
# to the same ranks on one node (the same global batch), and `mpirun` with a
# host file (netns_rsh.sh standing in for ssh) to srun; train.log names each
# rank's node; no daemon of the cluster listens outside its namespace.
. "$(dirname "$0")/lib.sh"
use_tcp
"$MKDS" data.h5 --train 768 --test 100 || exit 2
A="$SINREQ train --net cifar10net --lr 0.05 --quiet --hist-epochs= --data data.h5 \
   --epochs 1 --threads 1 --backend $BACKEND --batch 32"
export SINREQ_DIST_VERBOSE=1 SINREQ_DIST_VERIFY=1

# nothing of the cluster listens in the host's own network namespace
if l=$(nsenter --net=/proc/self/fd/9 ss -Hltnp 2>&1); then
    l=$(echo "$l" | grep -E 'slurm|munge|sinreq|orted')
    [ -z "$l" ] && ok "no daemon listens outside the namespaces" || fail "listening outside: $l"
else
    fail "ss in the host's network namespace: $l"
fi

# run NAME SRUN_ARGS...: srun ARGS sinreq train --out NAME
run() {
    local name=$1
    shift
    SECONDS=0
    timeout 240 srun --mpi=pmix "$@" $A --out "$name" > "$name.txt" 2>&1 \
        && ok "srun $*: $SECONDS s" || fail "srun $* rc $?: $(tail -5 "$name.txt")"
}
# nodes_are RUN N WANT: the nodes train.log names for N ranks
nodes_are() {
    [ "$(rank_nodes "$1" "$2")" = "$3" ] && ok "$1: ranks on $3" \
        || fail "$1: ranks on '$(rank_nodes "$1" "$2")', want '$3': $(grep '^rank' "$1/train.log")"
}

run one1x2 -N 1 -n 2 -w node1
run two2x1 -N 2 --ntasks-per-node=1
nodes_are one1x2 2 "node1 node1 "
nodes_are two2x1 2 "node1 node2 "
grep -q "^sinreq dist: rank 1 of 2, local 0 of 1 (SLURM_LOCALID), allreduce, node node2" two2x1.txt \
    && ok "2 x 1: rank 1 is local rank 0 on node2" || fail "2 x 1: $(grep '^sinreq dist' two2x1.txt)"
same one1x2 two2x1 "2 nodes x 1 rank = 1 node x 2 ranks"

run one1x4 -N 1 -n 4 -w node2
run two2x2 -N 2 --ntasks-per-node=2
nodes_are two2x2 4 "node1 node1 node2 node2 "
for r in 0 1 2 3; do
    grep -q "^rank $r: node node$((r / 2 + 1)), local rank $((r % 2)) of 2, " two2x2/train.log \
        || fail "2 x 2: rank $r: $(grep "^rank $r:" two2x2/train.log)"
done
same one1x4 two2x2 "2 nodes x 2 ranks = 1 node x 4 ranks"
[ "$(tail -1 two2x2/steps.tsv | cut -f1,5)" = "$(printf '6\t128')" ] && ok "6 steps of 128 rows" \
    || fail "steps.tsv: $(tail -1 two2x2/steps.tsv)"

# mpirun across the namespaces: a host file, netns_rsh.sh instead of ssh
printf 'node1 slots=2\nnode2 slots=2\n' > hosts
SECONDS=0
timeout 240 "$MPIEXEC" --mca plm_rsh_agent "$SL/netns_rsh.sh" --hostfile hosts \
    -np 4 --map-by ppr:2:node $A --out mpi2x2 > mpi2x2.txt 2>&1 \
    && ok "mpirun --hostfile: $SECONDS s" || fail "mpirun rc $?: $(tail -5 mpi2x2.txt)"
grep -q "^sinreq dist: rank 3 of 4, local 1 of 2 (OMPI_COMM_WORLD_LOCAL_RANK), allreduce, node node2" mpi2x2.txt \
    && ok "mpirun: rank 3 is local rank 1 on node2" || fail "mpirun: $(grep '^sinreq dist' mpi2x2.txt)"
nodes_are mpi2x2 4 "node1 node1 node2 node2 "
same two2x2 mpi2x2 "mpirun --hostfile = srun -N 2"
finish
