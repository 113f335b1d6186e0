# A 2-epoch cifar10net run (4-bit WRPN + SinReQ, --val, histograms) on the
# CPU backend: every run-dir file exists with the right content.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 128 --test 60 --val 40 || exit 2
$SINREQ train --data data.h5 --out run --epochs 2 --batch 32 --lr 0.02 \
    --quantizer wrpn --bits 4 --layer-bits conv1=5 --sinreq-lambda 1 --val \
    --hist-epochs 0,last --quiet || fail "train rc $?"
for f in config.yaml metrics.jsonl result.json train.log model.h5 best.h5 histograms.h5; do
    [ -s run/$f ] || fail "run/$f missing"
done
"$PY" - <<'PY' || fail "content checks"
import json, h5py, math
m = [json.loads(l) for l in open("run/metrics.jsonl")]
assert [r["epoch"] for r in m] == [1, 2], m
for r in m:
    for k in ("lr", "lambda", "train_loss", "train_acc", "test_loss", "test_acc",
              "val_loss", "val_acc", "images_per_s", "wall_s", "steps"):
        assert k in r and r[k] is not None, (k, r)
    assert r["lambda"] == 1 and abs(r["lr"] - 0.02) < 1e-9
    names = [l["name"] for l in r["layers"]]
    assert names == ["conv1", "conv2", "fc1", "fc2", "fc3"], names
    bits = {l["name"]: l["bits"] for l in r["layers"]}
    assert bits["conv1"] == 5 and bits["fc3"] == 4, bits
    for l in r["layers"]:
        assert 0 <= l["R"] <= 1 and 0 <= l["qerr"] < 1, l
assert m[1]["steps"] == 8
res = json.load(open("run/result.json"))
assert res["final_test_acc"] == m[-1]["test_acc"]
# --val: the best epoch is the first of the highest validation accuracy
vals = [r["val_acc"] for r in m]
best = m[vals.index(max(vals))]
assert res["best_selected_on"] == "val" and res["best_epoch"] == best["epoch"]
assert res["best_acc"] == best["val_acc"] and res["best_test_acc"] == best["test_acc"]
assert res["epochs"] == 2 and res["bits"]["conv1"] == 5 and "command" in res
assert "--layer-bits conv1=5" in res["command"]
f = h5py.File("run/model.h5", "r")
assert f.attrs["format"] == "sinreq-model" and f.attrs["format_version"] == 1
assert f.attrs["net"] == "cifar10net" and list(f.attrs["input"]) == [3, 32, 32]
assert f["model/conv1.weight"].shape == (6, 3, 5, 5)
assert f["model/fc3.weight"].shape == (10, 84)
assert f["model/conv1.weight"].fletcher32
assert list(f["quant"].attrs["bits"]) == [5, 4, 4, 4, 4]
h = h5py.File("run/histograms.h5", "r")
assert sorted(h.keys()) == ["epoch_0", "epoch_2"], list(h.keys())
d = h["epoch_2/fc1"]
assert d.shape == (200,) and d[()].sum() == 400 * 120
assert d.attrs["bits"] == 4 and len(d.attrs["levels"]) >= 1
assert d.attrs["lo"] < 0 < d.attrs["hi"]
log = open("run/train.log").read()
assert "epoch 2/2" in log and "done:" in log
PY
grep -q '^sinreq_lambda: 1$' run/config.yaml || fail "config.yaml lacks sinreq_lambda"
# --max-steps stops early after the current epoch's evaluation
$SINREQ train --data data.h5 --out run2 --epochs 3 --batch 32 --max-steps 3 \
    --quiet || fail "max-steps rc"
[ "$(wc -l < run2/metrics.jsonl)" = 1 ] || fail "max-steps: $(wc -l < run2/metrics.jsonl) epochs"
grep -q '"steps": 3' run2/result.json || fail "max-steps: steps"
finish
