# Config file + flag override; the resolved config.yaml reloads to the same
# run (same metrics, bit-identical model).
. "$(dirname "$0")/lib.sh"
small_data
cat > c.yaml <<'Y'
net: cifar10net
data: data.h5
epochs: 2
batch: 32
lr: 0.5            # overridden below
lr_milestones: [1]
lr_gamma: 0.5
quantizer: wrpn
bits: 4
layer_bits: {fc3: 5}
sinreq_lambda: 2
lambda_schedule: delayed-tanh
hist_epochs: last
quiet: true
Y
$SINREQ train --config c.yaml --out a --lr 0.02 || fail "config run rc $?"
grep -q '^lr: 0.02$' a/config.yaml || fail "flag did not override: $(grep '^lr' a/config.yaml)"
grep -q '^layer_bits: "fc3=5"$' a/config.yaml || fail "layer_bits mapping"
$SINREQ train --config a/config.yaml --out b --force || fail "reload rc $?"
"$PY" - <<'PY' || fail "reloaded run differs"
import json, h5py, numpy as np
a = [json.loads(l) for l in open("a/metrics.jsonl")]
b = [json.loads(l) for l in open("b/metrics.jsonl")]
assert len(a) == 2 and a[1]["lr"] == 0.01, a[1]["lr"]   # milestone 1, gamma 0.5
assert a[1]["lambda"] > a[0]["lambda"] >= 0
for x, y in zip(a, b):
    for k in ("train_loss", "test_acc", "layers", "lr", "lambda"):
        assert x[k] == y[k], k
fa, fb = h5py.File("a/model.h5"), h5py.File("b/model.h5")
for k in fa["model"]:
    assert np.array_equal(fa["model"][k][()], fb["model"][k][()]), k
PY
diff <(grep -v '^out:' a/config.yaml | grep -v '^force:') \
     <(grep -v '^out:' b/config.yaml | grep -v '^force:') > /dev/null || fail "config.yaml differs"
finish
