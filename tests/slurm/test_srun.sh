# `srun -n 2 --mpi=pmix sinreq train` on the test cluster is one MPI job of
# 2 ranks that took their local rank from SLURM_LOCALID, and its final
# parameters, steps.tsv and metrics.jsonl are bit-identical to the same run
# under `mpirun -np 2` (cifar10net, 20 steps, CPU, 1 thread per rank).
# Without a PMI plugin (--mpi=none) the ranks must fail, not train alone.
# A rank SIGKILLed under srun ends the step non-zero within 30 s.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 640 --test 100 || exit 2
A="$SINREQ train --net cifar10net --lr 0.05 --quiet --hist-epochs= --data data.h5 \
   --epochs 2 --threads 1 --backend $BACKEND --batch 32"
export SINREQ_DIST_VERBOSE=1

# 1. srun: one job of 2 ranks, local rank from SLURM_LOCALID
SECONDS=0
SINREQ_DIST_VERIFY=1 timeout 240 srun -n 2 --mpi=pmix $A --out srun > srun.txt 2>&1 \
    || { fail "srun rc $?: $(tail -5 srun.txt)"; finish; }
ok "srun -n 2 --mpi=pmix: $SECONDS s"
for r in 0 1; do
    grep -q "^sinreq dist: rank $r of 2, local $r of 2 (SLURM_LOCALID)" srun.txt \
        && ok "rank $r of 2, local rank $r from SLURM_LOCALID" \
        || fail "rank $r: $(grep '^sinreq dist' srun.txt)"
done
grep -q "data parallel: 2 ranks" srun/train.log && ok "train.log names 2 ranks" || fail "train.log: $(head -3 srun/train.log)"
[ "$(tail -1 srun/steps.tsv | cut -f1,5)" = "$(printf '20\t64')" ] && ok "20 steps of 64 rows" \
    || fail "steps.tsv: $(tail -1 srun/steps.tsv)"

# 2. the same under mpirun: bit-identical
SINREQ_DIST_VERIFY=1 timeout 240 "$MPIEXEC" $MPI_NP 2 $MPI_PRE $A --out mpirun > mpirun.txt 2>&1 \
    || { fail "mpirun rc $?: $(tail -5 mpirun.txt)"; finish; }
grep -q "^sinreq dist: rank 1 of 2, local 1 of 2 (OMPI_COMM_WORLD_LOCAL_RANK)" mpirun.txt \
    && ok "mpirun: local rank from OMPI_COMM_WORLD_LOCAL_RANK" || fail "mpirun: $(grep '^sinreq dist' mpirun.txt)"
same srun mpirun "srun = mpirun"

# 3. no PMI: Open MPI refuses (no 2 singletons training alone)
timeout 60 srun -n 2 --mpi=none $A --out nopmi > nopmi.txt 2>&1
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] && ok "srun --mpi=none: rc $rc" || fail "srun --mpi=none: rc $rc"
[ -e nopmi/model.h5 ] && fail "srun --mpi=none wrote a model"

# 4. a rank SIGKILLed: srun ends the step, non-zero, within 30 s
SINREQ_TEST_STEP_SLEEP=0.5 timeout 120 srun -n 2 --mpi=pmix $A --out kill > kill.txt 2>&1 &
pid=$!
wait_for "kill/ckpt/ckpt-*.h5" 1 120 || fail "no checkpoint appeared"
r1=""
for p in $(pgrep -f -- "train .*--out kill"); do
    e=$(tr '\0' '\n' < /proc/$p/environ 2> /dev/null)
    echo "$e" | grep -qx "SR_SLURM_STATE=$STATE" && echo "$e" | grep -qx "SLURM_PROCID=1" \
        && r1=$p
done
if [ -z "$r1" ]; then
    fail "rank 1 not found: $(tail -3 kill.txt)"
else
    kill -9 "$r1"
    t0=$(date +%s)
    wait $pid; rc=$?
    dt=$(($(date +%s) - t0))
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$dt" -le 30 ] \
        && ok "rank 1 SIGKILLed: srun rc $rc after $dt s" \
        || fail "rank 1 SIGKILLed: srun rc $rc after $dt s: $(tail -5 kill.txt)"
fi
[ -e kill/model.h5 ] && fail "killed run finished (too fast?)"
finish
