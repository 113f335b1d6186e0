# A rank SIGKILLed in the middle of training does not leave the other
# hanging: mpirun ends non-zero within LIMIT seconds, the surviving rank
# prints sinreq's message (the dead rank, the step, the last checkpoint),
# and the checkpoints written so far stay valid (a resume takes the newest).
. "$(dirname "$0")/lib.sh"
LIMIT=30
"$MKDS" data.h5 --train 256 --test 60 || exit 2
R="$SINREQ train --batch 32 --lr 0.02 --quiet --hist-epochs= --data data.h5 \
   --epochs 3 --threads 1 --backend $BACKEND --checkpoint-interval 2"
$MPIEXEC $MPI_NP 2 $MPI_PRE env SINREQ_TEST_STEP_SLEEP=0.1 $R --out k > k.txt 2>&1 &
pid=$!
wait_for "k/ckpt/ckpt-*.h5" 1 120 || fail "no checkpoint appeared"
kids=($(ranks_of $pid))
victim=""
for k in "${kids[@]}"; do
    grep -q "OMPI_COMM_WORLD_RANK=1" /proc/$k/environ 2>/dev/null && victim=$k
done
[ -n "$victim" ] || { fail "rank 1 not found"; kill -9 $pid; finish; }
start=$(date +%s%N)
kill -9 "$victim"
# a hung job is stopped by CTest's TIMEOUT (a failure)
wait $pid; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" != 0 ] && ok "mpirun exit $rc after $ms ms" || fail "mpirun reported success after a rank died"
[ "$ms" -le $((LIMIT * 1000)) ] || fail "took $ms ms (limit $LIMIT s)"
# mpirun may exit while it is still killing the other rank (SIGTERM, which
# sinreq catches, then SIGKILL): give it a few seconds
for p in "${kids[@]}"; do
    for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { fail "rank pid $p still alive 10 s after mpirun"; kill -9 "$p"; }
done
ls k/ckpt/*.tmp 2>/dev/null && fail "a .tmp checkpoint left"
# rank 0 (waiting for rank 1 in a collective; SIGTERM from mpirun caught)
# printed sinreq's message: the dead rank, the step, the last checkpoint
msg=$(grep "^sinreq: rank 0 of 2: rank 1 died" k.txt)
if [ -z "$msg" ]; then
    fail "no sinreq message naming rank 1: $(cat k.txt)"
elif ! echo "$msg" | grep -q "at global step [0-9]*; last good checkpoint: k/ckpt/ckpt-e[0-9]*-s[0-9]*\.h5; ending the job"; then
    fail "the message lacks the step or the checkpoint: $msg"
else
    ck=$(echo "$msg" | sed 's/.*last good checkpoint: \([^;]*\);.*/\1/')
    [ -f "$ck" ] && ok "rank 0: $msg" || fail "the checkpoint named does not exist: $ck"
fi
$R --out k --resume auto > res.txt 2>&1 && ok "resume from the last checkpoint (1 rank)" \
    || fail "resume rc $?: $(tail -3 res.txt)"
finish
