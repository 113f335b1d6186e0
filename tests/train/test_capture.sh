# A captured step replayed every step gives exactly what immediate mode
# gives: the same metrics and a bit-identical model (CPU is deterministic).
. "$(dirname "$0")/lib.sh"
small_data
for c in true false; do
    $T --data data.h5 --out run_$c --epochs 2 --capture $c --quantizer wrpn \
        --bits 3 --sinreq-lambda 2 --threads 2 || fail "capture=$c rc $?"
done
"$PY" - <<'PY' || fail "replayed != immediate"
import json, h5py, numpy as np
a = [json.loads(l) for l in open("run_true/metrics.jsonl")]
b = [json.loads(l) for l in open("run_false/metrics.jsonl")]
for x, y in zip(a, b):
    for k in ("train_loss", "train_acc", "test_loss", "test_acc", "layers"):
        assert x[k] == y[k], (k, x[k], y[k])
fa, fb = h5py.File("run_true/model.h5"), h5py.File("run_false/model.h5")
for k in fa["model"]:
    assert np.array_equal(fa["model"][k][()], fb["model"][k][()]), k
PY
finish
