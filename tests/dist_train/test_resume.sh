# Exact resume with 2 ranks: the job SIGKILLed (mpirun and both ranks)
# after a checkpoint, resumed with `mpirun -np 2 ... --resume auto`, ends
# with a model.h5, steps.tsv and metrics.jsonl bit-identical to the
# uninterrupted 2-rank run. SIGUSR1 to one rank only: every rank stops at
# the same step, rank 0 checkpoints, exit 3; the resume is bit-identical.
# Resuming a 2-rank checkpoint with 1 process works (not bit-identical).
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
R="$SINREQ train --batch 32 --lr 0.02 --quiet --hist-epochs= --data data.h5 \
   --quantizer wrpn --bits 4 --sinreq-lambda 1 --lambda-schedule linear-ramp \
   --lr-schedule cosine --epochs 3 --threads 1 --backend $BACKEND \
   --checkpoint-interval 2"
mpi 2 $R --out full > full.txt 2>&1 || { fail "reference rc $?: $(tail -5 full.txt)"; finish; }
"$PY" -c "import h5py,sys,glob; f=h5py.File(sorted(glob.glob('full/ckpt/*.h5'))[-1]); sys.exit(0 if f.attrs['nranks']==2 else 1)" \
    && ok "checkpoint records nranks 2" || fail "checkpoint nranks"

# 1. SIGKILL the whole job (mpirun and its ranks) after a checkpoint
setsid $MPIEXEC $MPI_NP 2 $MPI_PRE env SINREQ_TEST_STEP_SLEEP=0.1 $R --out kill > kill.txt 2>&1 &
pid=$!
wait_for "kill/ckpt/ckpt-*.h5" 2 120 || fail "no checkpoints appeared"
sleep 0.15
kids=$(ranks_of $pid)
kill -9 -- -$pid 2>/dev/null; kill -9 $pid $kids 2>/dev/null; wait $pid 2>/dev/null
[ -e kill/model.h5 ] && fail "killed run finished before the kill (too fast?)"
ok "killed at step ~$(tail -1 kill/steps.tsv | cut -f1), checkpoints: $(ls kill/ckpt | tr '\n' ' ')"
mpi 2 $R --out kill --resume auto > kres.txt 2>&1 || fail "resume rc $?: $(tail -5 kres.txt)"
grep -q "resuming from" kill/train.log || fail "train.log lacks 'resuming from'"
same full kill "2 ranks: SIGKILL + resume"

# 2. SIGUSR1 to rank 1 only
setsid $MPIEXEC $MPI_NP 2 $MPI_PRE env SINREQ_TEST_STEP_SLEEP=0.1 $R --out sig > sig.txt 2>&1 &
pid=$!
wait_for "sig/ckpt/ckpt-*.h5" 1 120 || fail "no checkpoint appeared"
kids=($(ranks_of $pid))
r1=""
for k in "${kids[@]}"; do
    grep -q "OMPI_COMM_WORLD_RANK=1" /proc/$k/environ 2>/dev/null && r1=$k
done
[ -n "$r1" ] || { fail "rank 1 not found among '${kids[*]}'"; kill -9 -- -$pid; finish; }
kill -USR1 $r1
wait $pid; rc=$?
[ "$rc" = 3 ] && ok "SIGUSR1 to rank 1 -> exit 3" || fail "SIGUSR1 to rank 1 -> exit $rc, want 3: $(tail -5 sig.txt)"
grep -q "checkpoint written" sig/train.log && ok "rank 0 checkpointed" || fail "no checkpoint logged"
[ -e sig/model.h5 ] && fail "SIGUSR1: model.h5 written"
mpi 2 $R --out sig --resume auto > sres.txt 2>&1 || fail "resume after SIGUSR1 rc $?: $(tail -5 sres.txt)"
same full sig "2 ranks: SIGUSR1 on rank 1 + resume"

# 3. another number of ranks: a 2-rank checkpoint resumed by 1 process
mkdir -p one/ckpt && cp full/config.yaml one/ && cp "$(ls full/ckpt/*.h5 | head -1)" one/ckpt/
$R --out one --resume auto > one.txt 2>&1 && ok "2-rank checkpoint resumed with 1 rank" \
    || fail "1-rank resume rc $?: $(tail -3 one.txt)"
grep -q "written by 2 rank" one/train.log && ok "noted as not bit-identical" || fail "no note in train.log"
finish
