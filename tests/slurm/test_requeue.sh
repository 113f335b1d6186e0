# Preemption under Slurm with jobs/train.sbatch: a 2-rank batch job
# (sbatch --requeue) is sent SIGUSR1 to its batch shell after its first
# checkpoint (`scancel --batch --signal=USR1`, what --signal=B:USR1@N does
# near the time limit); the shell forwards it to srun, the ranks checkpoint
# and exit 3, the script requeues the job, Slurm starts it again, it
# resumes with --resume auto and finishes: model.h5, steps.tsv and
# metrics.jsonl bit-identical to an uninterrupted `srun -n 2` run.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
R="--batch 32 --lr 0.02 --quiet --hist-epochs= --data data.h5 \
   --quantizer wrpn --bits 4 --sinreq-lambda 1 --lambda-schedule linear-ramp \
   --lr-schedule cosine --epochs 3 --threads 1 --backend $BACKEND \
   --checkpoint-interval 2"
timeout 240 srun -n 2 --mpi=pmix $SINREQ train $R --out full > full.txt 2>&1 \
    || { fail "reference rc $?: $(tail -5 full.txt)"; finish; }
ok "reference: srun -n 2, $(tail -1 full/steps.tsv | cut -f1) steps"

# the job; 0.3 s per step: ~4 s of training, signalled after step 2
SECONDS=0
job=$(SINREQ=$SINREQ SINREQ_TEST_STEP_SLEEP=0.3 sbatch --parsable -n 2 -J sr-requeue \
      -o job.out "$ROOT/jobs/train.sbatch" $R --out req 2> sbatch.txt) \
    || { fail "sbatch: $(cat sbatch.txt)"; finish; }
ok "submitted job $job"
wait_for "req/ckpt/ckpt-*.h5" 1 120 || { fail "no checkpoint in 120 s: $(cat job.out)"; scancel "$job"; finish; }
scancel --batch --signal=USR1 "$job" || fail "scancel --batch --signal=USR1 rc $?"
ok "SIGUSR1 to the batch shell after $SECONDS s, at step ~$(tail -1 req/steps.tsv | cut -f1)"
# requeued: Slurm holds it ~11 s (cred_expire=10), then it runs again
wait_job "$job" 180 COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY \
    || { fail "job $job did not end in 180 s"; scancel "$job"; }
state=$(job_field "$job" JobState)
[ "$state" = COMPLETED ] && [ "$(job_field "$job" ExitCode)" = 0:0 ] \
    && ok "job $job COMPLETED, exit 0, after $SECONDS s" \
    || fail "job $job: $state exit $(job_field "$job" ExitCode): $(tail -8 job.out)"
[ "$(job_field "$job" Restarts)" = 1 ] && ok "requeued once (Restarts=1)" \
    || fail "Restarts=$(job_field "$job" Restarts)"
for w in "SIGUSR1 forwarded to srun" "sinreq train exited 3" "requeueing job $job" \
         "job $job start 1 on 2 task" "sinreq train exited 0"; do
    grep -q "$w" job.out && ok "job.out: $w" || fail "job.out lacks '$w': $(cat job.out)"
done
grep -q "checkpoint written" req/train.log && ok "checkpoint on the signal" \
    || fail "no checkpoint on the signal in train.log"
grep -q "resuming from" req/train.log && ok "$(grep -m1 'resuming from' req/train.log)" \
    || fail "train.log lacks 'resuming from'"
same full req "sbatch: SIGUSR1, exit 3, requeue, resume"
finish
