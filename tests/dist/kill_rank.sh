#!/bin/bash
# tests/dist: a rank killed with SIGKILL must not leave the others hanging.
# Usage: kill_rank.sh MPIEXEC NUMPROC_FLAG TEST_DIST [PREFLAGS...]
# test_dist kill: 2 ranks allreduce in a loop; rank 1 SIGKILLs itself after
# 200 rounds. Pass: the job ends with a non-zero status within LIMIT
# seconds (mpirun notices the death and kills rank 0), and rank 0's
# watchdog printed sinreq's message naming rank 1 first. A hard timeout of
# 2*LIMIT stops a hung job (status 124 = the bug this test looks for).
# mpirun's own status for a rank killed by a signal is 128+9 = 137 here.
set -u
MPIEXEC=$1 NP_FLAG=$2 EXE=$3
shift 3
LIMIT=${SR_KILL_LIMIT_S:-30}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s%N)
timeout -k 5 $((2 * LIMIT)) "$MPIEXEC" "$NP_FLAG" 2 "$@" "$EXE" kill > "$out" 2>&1
rc=$?
cat "$out"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
echo "kill_rank: mpirun exit status $rc after $ms ms (limit $LIMIT s)"
if [ "$rc" -eq 0 ]; then
    echo "kill_rank: FAIL: the job reported success after a rank died"
    exit 1
fi
if [ "$rc" -eq 124 ]; then
    echo "kill_rank: FAIL: the job hung; stopped by timeout"
    exit 1
fi
if [ "$ms" -gt $((LIMIT * 1000)) ]; then
    echo "kill_rank: FAIL: took longer than $LIMIT s"
    exit 1
fi
# rank 0 (waiting in the allreduce, watchdog on) names the dead rank
if ! grep -q "^sinreq: rank 0 of 2: rank 1 died (pid [0-9]* on this node: gone) while this rank waited for it in a reduction over ranks at global step 200; last good checkpoint: none (test); ending the job" "$out"; then
    echo "kill_rank: FAIL: rank 0 did not print sinreq's message naming rank 1"
    exit 1
fi
echo "kill_rank: ok"
