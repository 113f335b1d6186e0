# Training options end to end on the CPU backend: --nesterov,
# --warmup-epochs, --label-smoothing, --clip-grad-norm and lr_schedule step
# give the same steps whatever the thread count and from run to run, the
# same as their YAML keys; metrics.jsonl follows the lr formula and reports
# the gradient norm and the clipped steps.
. "$(dirname "$0")/lib.sh"
small_data
O="--nesterov --warmup-epochs 0.5 --label-smoothing 0.1 --clip-grad-norm 0.5 \
   --lr-schedule step --lr-step-epochs 1 --lr-gamma 0.5"
$T --data data.h5 --out t1 --epochs 2 --threads 1 $O || fail "threads 1 rc $?"
$T --data data.h5 --out t2 --epochs 2 --threads 2 $O || fail "threads 2 rc $?"
$T --data data.h5 --out t2b --epochs 2 --threads 2 $O || fail "rerun rc $?"
cat > opts.yaml <<'YAML'
nesterov: true
warmup_epochs: 0.5
label_smoothing: 0.1
clip_grad_norm: 0.5
lr_schedule: step
lr_step_epochs: 1
lr_gamma: 0.5
YAML
$T --data data.h5 --out ty --epochs 2 --threads 2 --config opts.yaml || fail "yaml rc $?"
$T --data data.h5 --out plain --epochs 2 --threads 2 || fail "plain rc $?"
for r in t2 t2b ty; do
    cmp -s t1/steps.tsv $r/steps.tsv && ok "steps.tsv t1 = $r" \
        || fail "steps.tsv differs between t1 and $r"
done
cmp -s t1/steps.tsv plain/steps.tsv && fail "the options change nothing"
"$PY" - <<'PY' || fail "metrics checks"
import json, h5py, numpy as np
m = [json.loads(l) for l in open("t1/metrics.jsonl")]
# 4 steps an epoch: warm-up over round(0.5 x 4) = 2 steps; the logged lr is
# the epoch's last step's: StepLR(1 epoch, 0.5) from 0.02
assert abs(m[0]["lr"] - 0.02) < 1e-12 and abs(m[1]["lr"] - 0.01) < 1e-12, m
for r in m:
    assert r["grad_norm"] > 0 and 0 <= r["clipped_steps"] <= 4, r
assert sum(r["clipped_steps"] for r in m) > 0, "--clip-grad-norm 0.5 clipped nothing"
p = [json.loads(l) for l in open("plain/metrics.jsonl")]
assert "grad_norm" not in p[0], p[0]
a, b = h5py.File("t1/model.h5", "r"), h5py.File("t2/model.h5", "r")
for k in a["model"]:
    assert np.array_equal(a["model"][k][()], b["model"][k][()]), k
PY
grep -q '^label_smoothing: 0.1$' t1/config.yaml || fail "config.yaml lacks label_smoothing"
grep -q '^nesterov: true$' t1/config.yaml || fail "config.yaml lacks nesterov"
finish
