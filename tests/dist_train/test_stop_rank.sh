# A rank stopped with SIGSTOP (a hung node, a stuck file system) ends the
# job within --rank-timeout: the waiting rank prints sinreq's message (the
# stopped rank, the step, the last good checkpoint), MPI_Abort ends the
# job non-zero (2), no rank is left, and the checkpoint named resumes.
. "$(dirname "$0")/lib.sh"
TIMEOUT=5
LIMIT=30    # the timeout + MPI_Abort + slack on a loaded machine
"$MKDS" data.h5 --train 256 --test 60 || exit 2
R="$SINREQ train --batch 32 --lr 0.02 --quiet --hist-epochs= --data data.h5 \
   --epochs 3 --threads 1 --backend $BACKEND --checkpoint-interval 2"
$MPIEXEC $MPI_NP 2 $MPI_PRE env SINREQ_TEST_STEP_SLEEP=0.1 $R --out s \
    --rank-timeout $TIMEOUT > s.txt 2>&1 &
pid=$!
wait_for "s/ckpt/ckpt-*.h5" 1 120 || fail "no checkpoint appeared"
kids=($(ranks_of $pid))
victim=""
for k in "${kids[@]}"; do
    grep -q "OMPI_COMM_WORLD_RANK=1" /proc/$k/environ 2>/dev/null && victim=$k
done
[ -n "$victim" ] || { fail "rank 1 not found"; kill -9 $pid; finish; }
start=$(date +%s%N)
kill -STOP "$victim"
# without the watchdog the job hangs: give up after LIMIT s
for i in $(seq $((LIMIT * 10))); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
    fail "the job still runs $LIMIT s after rank 1 was stopped"
    kill -CONT "$victim"; kill -9 "${kids[@]}" $pid 2>/dev/null
fi
wait $pid; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" != 0 ] && ok "mpirun exit $rc after $ms ms (rank_timeout $TIMEOUT s)" \
    || fail "mpirun reported success after a rank stopped"
[ "$ms" -ge $((TIMEOUT * 1000)) ] || fail "ended after $ms ms, before the timeout"
[ "$ms" -le $((LIMIT * 1000)) ] || fail "took $ms ms (limit $LIMIT s)"
msg=$(grep "^sinreq: rank 0 of 2: rank 1 (pid $victim on this node: stopped) did not respond for [0-9.]* s (rank_timeout $TIMEOUT s)" s.txt)
if [ -z "$msg" ]; then
    fail "no sinreq message naming the stopped rank 1: $(cat s.txt)"
elif ! echo "$msg" | grep -q "at global step [0-9]*; last good checkpoint: s/ckpt/ckpt-e[0-9]*-s[0-9]*\.h5; ending the job (exit 2)"; then
    fail "the message lacks the step or the checkpoint: $msg"
else
    ok "rank 0: $msg"
fi
for p in "${kids[@]}"; do
    for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { fail "rank pid $p still alive 10 s after mpirun"; kill -9 "$p"; }
done
ck=$(echo "$msg" | sed 's/.*last good checkpoint: \([^;]*\);.*/\1/')
[ -f "$ck" ] && ok "the checkpoint named exists: $ck" || fail "no such checkpoint: $ck"
ls s/ckpt/*.tmp 2>/dev/null && fail "a .tmp checkpoint left"
$R --out s --resume "$ck" > res.txt 2>&1 && ok "resume from the checkpoint named (1 rank)" \
    || fail "resume rc $?: $(tail -3 res.txt)"
# the watchdog only waits differently: the same 2-rank run with it off
# (plain MPI_Waitall) gives the same bits
mpi 2 $R --out on --max-steps 6 > on.txt 2>&1 || fail "run with the watchdog: $(tail -2 on.txt)"
mpi 2 $R --out off --max-steps 6 --rank-timeout 0 > off.txt 2>&1 || fail "run without: $(tail -2 off.txt)"
cmp -s on/steps.tsv off/steps.tsv && ok "steps.tsv identical with and without the watchdog" \
    || fail "steps.tsv differs with --rank-timeout 0"
same on off "model.h5 with and without the watchdog"
# --rank-timeout 0 turns the watchdog off; a bad value is a usage error
$R --out bad --rank-timeout -1 > bad.txt 2>&1; rc=$?
[ "$rc" = 1 ] && grep -q "rank_timeout must be" bad.txt && ok "--rank-timeout -1: exit 1" \
    || fail "--rank-timeout -1: rc $rc: $(tail -1 bad.txt)"
finish
