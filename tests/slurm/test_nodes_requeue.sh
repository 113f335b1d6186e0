# Preemption on the namespaced nodes: a 2-rank batch job (jobs/train.sbatch)
# runs on one node, is sent SIGUSR1 after its first checkpoint while that
# node is drained, checkpoints, exits 3, is requeued and resumes on the
# other node: model.h5, steps.tsv and metrics.jsonl bit-identical to an
# uninterrupted run.
. "$(dirname "$0")/lib.sh"
use_tcp
"$MKDS" data.h5 --train 256 --test 60 || exit 2
R="--batch 32 --lr 0.02 --quiet --hist-epochs= --data data.h5 \
   --quantizer wrpn --bits 4 --sinreq-lambda 1 --lambda-schedule linear-ramp \
   --lr-schedule cosine --epochs 3 --threads 1 --backend $BACKEND \
   --checkpoint-interval 2"
timeout 240 srun -N 1 -n 2 --mpi=pmix $SINREQ train $R --out full > full.txt 2>&1 \
    || { fail "reference rc $?: $(tail -5 full.txt)"; finish; }
ok "reference: srun -N 1 -n 2, $(tail -1 full/steps.tsv | cut -f1) steps"

SECONDS=0
job=$(SINREQ=$SINREQ SINREQ_TEST_STEP_SLEEP=0.3 sbatch --parsable -N 1 -n 2 \
      -J sr-nodes-requeue -o job.out "$ROOT/jobs/train.sbatch" $R --out req 2> sbatch.txt) \
    || { fail "sbatch: $(cat sbatch.txt)"; finish; }
ok "submitted job $job"
wait_for "req/ckpt/ckpt-*.h5" 1 120 || { fail "no checkpoint in 120 s: $(cat job.out)"; scancel "$job"; finish; }
first=$(job_field "$job" NodeList)
case "$first" in node1) other=node2 ;; node2) other=node1 ;;
*) fail "job $job on '$first', want node1 or node2"; scancel "$job"; finish ;; esac
# the requeued job must go elsewhere: drain the first node (back at the end)
scontrol update NodeName="$first" State=DRAIN Reason=sinreq-test \
    || fail "cannot drain $first"
scancel --batch --signal=USR1 "$job" || fail "scancel --batch --signal=USR1 rc $?"
ok "SIGUSR1 on $first after $SECONDS s, at step ~$(tail -1 req/steps.tsv | cut -f1)"
wait_job "$job" 180 COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY \
    || { fail "job $job did not end in 180 s"; scancel "$job"; }
scontrol update NodeName="$first" State=RESUME || fail "cannot resume $first"
state=$(job_field "$job" JobState)
[ "$state" = COMPLETED ] && [ "$(job_field "$job" ExitCode)" = 0:0 ] \
    && ok "job $job COMPLETED, exit 0, after $SECONDS s" \
    || fail "job $job: $state exit $(job_field "$job" ExitCode): $(tail -8 job.out)"
[ "$(job_field "$job" Restarts)" = 1 ] && ok "requeued once (Restarts=1)" \
    || fail "Restarts=$(job_field "$job" Restarts)"
for w in "start 0 on 2 task(s), node(s) $first," "sinreq train exited 3" \
         "requeueing job $job" "start 1 on 2 task(s), node(s) $other," \
         "sinreq train exited 0"; do
    grep -qF "$w" job.out && ok "job.out: $w" || fail "job.out lacks '$w': $(cat job.out)"
done
grep -q "resuming from" req/train.log && ok "$(grep -m1 'resuming from' req/train.log)" \
    || fail "train.log lacks 'resuming from'"
[ "$(rank_nodes req 2)" = "$other $other " ] && ok "the resumed ranks on $other" \
    || fail "resumed on '$(rank_nodes req 2)': $(grep '^rank' req/train.log)"
same full req "preempted on $first, resumed on $other"
finish
