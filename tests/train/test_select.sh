# The best model: chosen on /val when --val is given (else on /test, and
# result.json says so), written as best.h5, recorded in result.json; a run
# stopped and resumed (mid-epoch and at an epoch end) chooses the same epoch
# and writes the same best.h5 as one done in one go.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 128 --test 60 --val 40 || exit 2
# seed 5: the validation accuracy peaks at epoch 4 of 5, so the best is
# neither the first nor the last epoch, and is chosen before the last stop
R="$T --data data.h5 --epochs 5 --lr 0.05 --seed 5 --threads 2"
$R --out full --val || fail "full run rc $?"
$R --out notval || fail "no-val run rc $?"
# stopped mid-epoch 2 (4 steps per epoch: step 6), then at the end of
# epoch 4 (step 16), resumed each time: the last part must keep epoch 4
$R --out cut --val --max-steps 6 || fail "cut run rc $?"
$R --out cut --val --max-steps 16 --resume auto || fail "second part rc $?"
$R --out cut --val --resume auto || fail "resume rc $?"
grep -c "resuming from" cut/train.log | grep -q 2 || fail "cut: not resumed twice: $(grep -i resum cut/train.log)"
for run in full notval cut; do
    [ -s $run/best.h5 ] || fail "$run: no best.h5"
done
"$PY" - <<'PY' || fail "best model selection"
import json, h5py, numpy as np
def check(run, split):
    m = [json.loads(l) for l in open(run + "/metrics.jsonl")]
    r = json.load(open(run + "/result.json"))
    key = split + "_acc"
    accs = [e[key] for e in m]
    best = accs.index(max(accs))           # the first of equal ones
    assert r["best_selected_on"] == split, (run, r["best_selected_on"])
    assert r["best_epoch"] == m[best]["epoch"], (run, r["best_epoch"], accs)
    assert r["best_acc"] == m[best][key], (run, r)
    assert r["best_test_acc"] == m[best]["test_acc"], (run, r)
    assert r["best_model"] == "best.h5"
    assert 0 <= r["best_test_top5"] <= 1 and r["best_test_top5"] >= r["best_test_acc"]
    return r, m
full, mf = check("full", "val")
# otherwise the checks below would not tell a kept best from a new one
assert 1 < full["best_epoch"] < len(mf), ("pick another --seed", full["best_epoch"], mf)
check("notval", "test")
cut, mc = check("cut", "val")
for k in ("best_epoch", "best_acc", "best_test_acc", "best_test_top5",
          "final_test_acc", "final_test_top5"):
    assert full[k] == cut[k], (k, full[k], cut[k])
assert [e["val_acc"] for e in mf] == [e["val_acc"] for e in mc]
a, b = h5py.File("full/best.h5", "r"), h5py.File("cut/best.h5", "r")
assert a.attrs["format"] == "sinreq-model"
for k in a["model"]:
    assert a["model"][k][()].tobytes() == b["model"][k][()].tobytes(), k
# best.h5 is the chosen epoch's weights: the final model when it is the last
fin = h5py.File("full/model.h5", "r")
same = all(a["model"][k][()].tobytes() == fin["model"][k][()].tobytes()
           for k in a["model"])
assert same == (full["best_epoch"] == mf[-1]["epoch"]), (same, full["best_epoch"])
print("best epoch", full["best_epoch"], "of", len(mf))
PY
# best.h5 evaluates to the numbers result.json recorded for it
for split in val test; do
    $SINREQ eval --model full/best.h5 --data data.h5 --split $split --batch 32 \
        --json ev_$split.json > /dev/null 2> err.txt || fail "eval best.h5 /$split: $(cat err.txt)"
done
"$PY" - <<'PY' || fail "eval of best.h5 differs from result.json"
import json
r = json.load(open("full/result.json"))
v, t = json.load(open("ev_val.json")), json.load(open("ev_test.json"))
assert abs(v["top1"] - r["best_acc"]) < 1e-12, (v["top1"], r["best_acc"])
assert abs(t["top1"] - r["best_test_acc"]) < 1e-12, (t["top1"], r)
assert abs(t["top5"] - r["best_test_top5"]) < 1e-12, (t["top5"], r)
PY
grep -q "chosen on the validation split" full/train.log || fail "train.log: $(tail -1 full/train.log)"
grep -q "chosen on the test split: no --val" notval/train.log || fail "notval train.log: $(tail -1 notval/train.log)"
# a run stopped before its first epoch was complete: its final state
$R --out short --max-steps 2 || fail "short run rc $?"
grep -q '"best_epoch": 1' short/result.json && [ -s short/best.h5 ] || fail "short: $(cat short/result.json)"
finish
