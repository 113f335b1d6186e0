# Failures between the namespaced nodes, a 2-node job of 1 rank per node:
# 1. node loss: everything on node2 (slurmd, slurmstepd, rank 1) SIGKILLed
#    mid-epoch: the job ends within 60 s, rank 0 names rank 1 on node2 and
#    the last checkpoint; with node2 back the requeued job resumes from that
#    checkpoint (losing only the steps after it) and ends bit-identical to
#    an uninterrupted run;
# 2. a network partition (node2's link down) while rank 0 writes a
#    checkpoint: the run ends within 60 s, the previous checkpoint is
#    unchanged, and the run resumes and ends bit-identical.
. "$(dirname "$0")/lib.sh"
use_tcp
"$MKDS" data.h5 --train 512 --test 60 || exit 2
INTERVAL=3
R="--batch 32 --lr 0.02 --quiet --hist-epochs= --data data.h5 \
   --quantizer wrpn --bits 4 --sinreq-lambda 1 --epochs 3 --threads 1 \
   --backend $BACKEND --checkpoint-interval $INTERVAL --rank-timeout 10"
N2="-N 2 --ntasks-per-node=1"
timeout 240 srun $N2 --mpi=pmix $SINREQ train $R --out full > full.txt 2>&1 \
    || { fail "reference rc $?: $(tail -5 full.txt)"; finish; }
ok "reference: srun $N2, $(tail -1 full/steps.tsv | cut -f1) steps"
# step_of CKPT: its global step (ckpt-eEEEE-sSSSSSSSSS.h5)
step_of() { basename "$1" .h5 | sed 's/.*-s0*\([0-9]\)/\1/'; }

# 1. node loss
job=$(SINREQ=$SINREQ SINREQ_TEST_STEP_SLEEP=0.5 SR_SRUN_ARGS=--kill-on-bad-exit=1 \
      sbatch --parsable $N2 -J sr-nodes-loss -o job.out "$ROOT/jobs/train.sbatch" \
      $R --out loss 2> sbatch.txt) || { fail "sbatch: $(cat sbatch.txt)"; finish; }
ok "submitted job $job"
wait_for "loss/ckpt/ckpt-*.h5" 1 120 || { fail "no checkpoint in 120 s: $(cat job.out)"; scancel "$job"; finish; }
sleep 1
bash "$CLUSTER" node-kill "$STATE" node2 || fail "node-kill node2"
t0=$(date +%s)
state=""
while [ $(($(date +%s) - t0)) -lt 90 ]; do
    state=$(job_field "$job" JobState)
    case "$state" in RUNNING|COMPLETING|CONFIGURING) sleep 0.5 ;; *) break ;; esac
done
dt=$(($(date +%s) - t0))
[ "$dt" -le 60 ] && ok "node2 lost: job $job $state after $dt s" \
    || fail "node2 lost: job $job still $state after $dt s: $(tail -5 job.out)"
# the newest checkpoint: the last one written before the loss
last=$(ls loss/ckpt/ckpt-*.h5 | tail -1)
msg=$(grep "^sinreq: rank 0 of 2: .*rank 1 (on node node2)" job.out | head -1)
[ -n "$msg" ] && ok "rank 0: $msg" || fail "no line of rank 0 naming rank 1 on node2: $(tail -8 job.out)"
echo "$msg" | grep -qF "last good checkpoint: $last" && ok "the message names $last" \
    || fail "the message does not name $last"
lost=$(echo "$msg" | sed -n 's/.* at global step \([0-9]*\).*/\1/p')
bash "$CLUSTER" node-up "$STATE" node2 > nodeup.txt 2>&1 || fail "node2 not back: $(cat nodeup.txt)"
# a FAILED job is requeued by hand (the ranks ended first); a NODE_FAIL one
# Slurm requeued itself (--requeue)
case "$(job_field "$job" JobState)" in
PENDING|REQUEUED) ok "job $job requeued by Slurm" ;;
*) scontrol requeue "$job" && ok "job $job requeued" || fail "scontrol requeue $job rc $?" ;;
esac
wait_job "$job" 180 COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL \
    || { fail "job $job did not end in 180 s"; scancel "$job"; }
[ "$(job_field "$job" JobState)" = COMPLETED ] && ok "requeued job $job COMPLETED" \
    || fail "job $job $(job_field "$job" JobState): $(tail -8 job.out)"
grep -q "resuming from $last:" loss/train.log && ok "$(grep -m1 "resuming from" loss/train.log)" \
    || fail "not resumed from $last: $(grep 'resuming from\|skipped' loss/train.log)"
grep -q "invalid and skipped" loss/train.log && fail "a checkpoint was skipped: $(grep -A2 skipped loss/train.log)"
if [ -n "$lost" ]; then
    k=$((lost - $(step_of "$last")))
    [ "$k" -ge 0 ] && [ "$k" -le "$INTERVAL" ] && ok "$k step(s) lost (step $lost, checkpoint at $(step_of "$last"))" \
        || fail "$k steps lost (step $lost, checkpoint $(step_of "$last"))"
fi
same full loss "node2 lost, requeued, resumed"

# 2. a partition while rank 0 writes a checkpoint (4 s between the
# temporary file and its rename)
SINREQ_TEST_STEP_SLEEP=0.3 SINREQ_TEST_CKPT_SLEEP=4 timeout 120 srun $N2 --mpi=pmix \
    --kill-on-bad-exit=1 $SINREQ train $R --out part > part.txt 2>&1 &
pid=$!
wait_for "part/ckpt/ckpt-*.h5" 1 120 || fail "no checkpoint"
prev=$(ls part/ckpt/ckpt-*.h5 | tail -1)
sum=$(md5sum < "$prev")
if wait_for "part/ckpt/*.h5.tmp" 1 60; then
    bash "$CLUSTER" link "$STATE" node2 down || fail "link node2 down"
    t0=$(date +%s)
    ok "node2 cut off while $(ls part/ckpt/*.h5.tmp) is written"
    # the partition heals once rank 0 has given up on rank 1
    for _ in $(seq 1 80); do
        grep -q "^sinreq: rank 0 of 2: " part.txt && break
        sleep 0.5
    done
    bash "$CLUSTER" link "$STATE" node2 up || fail "link node2 up"
    wait $pid
    rc=$?
    dt=$(($(date +%s) - t0))
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$dt" -le 60 ] && ok "partition: srun rc $rc after $dt s" \
        || fail "partition: srun rc $rc after $dt s: $(tail -5 part.txt)"
    grep -q "^sinreq: rank 0 of 2: .*rank 1 (on node node2)" part.txt \
        && ok "$(grep -m1 '^sinreq: rank 0 of 2: ' part.txt)" \
        || fail "rank 0 does not name rank 1 on node2: $(tail -5 part.txt)"
    [ "$(md5sum < "$prev")" = "$sum" ] && ok "previous checkpoint $prev unchanged" \
        || fail "$prev changed"
    timeout 240 srun $N2 --mpi=pmix $SINREQ train $R --resume auto --out part > part2.txt 2>&1 \
        || fail "resume after the partition rc $?: $(tail -5 part2.txt)"
    grep -q "invalid and skipped" part/train.log && fail "a checkpoint was skipped: $(grep -A2 skipped part/train.log)"
    ok "$(grep 'resuming from' part/train.log | tail -1)"
    same full part "partition during a checkpoint write, resumed"
else
    fail "no checkpoint being written seen"
    kill "$pid"
fi
finish
