# Exact resume on one backend (BACKEND=cpu|vulkan): a run stopped by
# SIGKILL at a step of its own, by SIGTERM / SIGUSR1 (exit 3), or by
# --max-steps, resumed with --resume auto, ends bit-identical to the run
# that was never stopped (model.h5 tensors, metrics.jsonl without timings,
# steps.tsv); WaveQ and the training options too. Also: --keep-last, config
# mismatch, reused run directory.
. "$(dirname "$0")/lib.sh"
if [ "$BACKEND" = vulkan ]; then
    $SINREQ devices --backend vulkan > /dev/null 2>&1 || { echo "no Vulkan device"; exit 77; }
fi
reference

# 1. --max-steps 11 (mid-epoch 2), then resume
$R --out maxs --checkpoint-interval 3 --max-steps 11 || fail "max-steps rc $?"
$R --out maxs --checkpoint-interval 3 --resume auto || fail "resume rc $?"
same full maxs "max-steps 11 + resume"

# 2. SIGKILL after the 2nd step checkpoint plus a bit (a step between two
#    checkpoints), resumed; then killed again, resumed again
SINREQ_TEST_STEP_SLEEP=0.05 $R --out kill --checkpoint-interval 3 --keep-last 2 &
pid=$!
wait_for "kill/ckpt/ckpt-*.h5" 2 60 || fail "no checkpoints appeared"
sleep 0.08
kill -9 $pid; wait $pid 2>/dev/null
[ -e kill/model.h5 ] && fail "killed run finished before the kill (too fast?)"
last=$(tail -1 kill/steps.tsv | cut -f1)
ok "killed at step ~$last, checkpoints: $(ls kill/ckpt | tr '\n' ' ')"
SINREQ_TEST_STEP_SLEEP=0.05 $R --out kill --checkpoint-interval 3 --keep-last 2 --resume auto &
pid=$!
sleep 0.4; kill -9 $pid; wait $pid 2>/dev/null
$R --out kill --checkpoint-interval 3 --keep-last 2 --resume auto || fail "resume after kill rc $?"
grep -q "resuming from" kill/train.log || fail "train.log lacks 'resuming from'"
# Checked after a run that ended normally: a SIGKILL between renaming a new
# checkpoint and deleting the oldest legitimately leaves keep-last + 1.
n=$(ls kill/ckpt/ckpt-*.h5 | wc -l)
[ "$n" -le 2 ] || fail "--keep-last 2 left $n checkpoints"
same full kill "SIGKILL twice + resume"

# 3. SIGTERM and SIGUSR1: finish the step, checkpoint, exit 3
for sig in TERM USR1; do
    SINREQ_TEST_STEP_SLEEP=0.05 $R --out sig$sig &
    pid=$!
    wait_for "sig$sig/steps.tsv" 1 60
    sleep 0.3
    kill -$sig $pid; wait $pid; rc=$?
    [ "$rc" = 3 ] && ok "SIG$sig -> exit 3" || fail "SIG$sig -> exit $rc, want 3"
    grep -q "SIG$sig: checkpoint written" sig$sig/train.log || fail "SIG$sig not logged"
    [ -e sig$sig/model.h5 ] && fail "SIG$sig: model.h5 written"
    $R --out sig$sig --resume auto || fail "resume after SIG$sig rc $?"
    same full sig$sig "SIG$sig + resume"
done

# 4. WaveQ: learned betas and bitwidths resume exactly too (their SGD has
#    no momentum, so the betas themselves are the whole state)
W="$R --waveq --waveq-start 0.1 --sinreq-lambda 0"
$W --out wq-full || fail "waveq reference rc $?"
$W --out wq-part --checkpoint-interval 3 --max-steps 11 || fail "waveq max-steps rc $?"
$W --out wq-part --checkpoint-interval 3 --resume auto || fail "waveq resume rc $?"
same wq-full wq-part "WaveQ max-steps 11 + resume"
beta() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["waveq_beta"])' "$1/result.json"; }
b1=$(beta wq-full) b2=$(beta wq-part)
[ -n "$b1" ] && [ "$b1" = "$b2" ] && ok "WaveQ betas identical: $b1" \
    || fail "WaveQ betas differ: '$b1' vs '$b2'"
"$PY" -c 'import json,sys; b=json.load(open(sys.argv[1]))["waveq_beta"]; sys.exit(any(v != 8.0 for v in b.values()) == 0)' \
    wq-full/result.json || fail "WaveQ betas never left their initial 8: the case tests nothing"

# 4b. Nesterov, warm-up, label smoothing, clipping: no state beyond the
#     momentum buffers and the clipping's epoch sums, so a resume within
#     the warm-up is exact as well. The state is the host's, alike for both
#     backends: CPU only, keeping the Vulkan run within its time limit.
if [ "$BACKEND" = cpu ]; then
    O="$R --nesterov --warmup-epochs 1.5 --label-smoothing 0.1 --clip-grad-norm 0.5"
    $O --out op-full || fail "options reference rc $?"
    $O --out op-part --checkpoint-interval 3 --max-steps 5 || fail "options max-steps rc $?"
    $O --out op-part --checkpoint-interval 3 --resume auto || fail "options resume rc $?"
    same op-full op-part "options max-steps 5 (in the warm-up) + resume"
fi

# 5. rules
expect_rc 1 "another configuration" $R --out maxs --resume auto --bits 2
expect_rc 1 "not empty" $R --out maxs
expect_rc 1 "" $R --out maxs --resume maxs/nonexistent.h5
finish
