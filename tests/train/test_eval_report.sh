# eval's report (top-1, top-5, per class, confusion; --json) checked against
# numbers computed independently; eval and info on checkpoints and exports;
# info --config's plan preview; result.json's final evaluation.
. "$(dirname "$0")/lib.sh"
small_data --val 40
$T --data data.h5 --out fp --epochs 1 || fail "fp run rc $?"
$T --data data.h5 --out q --epochs 1 --quantizer wrpn --bits 4 \
    --layer-bits conv1=5 --sinreq-lambda 1 || fail "quantized run rc $?"
CK=$(ls q/ckpt/ckpt-e0001-*.h5 | tail -1)
[ -n "$CK" ] || fail "no checkpoint in q/ckpt"
$SINREQ export --model q/model.h5 --out q/export.h5 > /dev/null || fail "export rc $?"

# the model file, its last checkpoint and its export: the same evaluation
for f in q/model.h5 "$CK" q/export.h5; do
    n=$(basename "$f" .h5)
    $SINREQ eval --model "$f" --data data.h5 --batch 32 --json ev_$n.json \
        > ev_$n.txt 2> err.txt || fail "eval $f rc $?: $(cat err.txt)"
done
grep -q "top-5" ev_model.txt && grep -q "confusion matrix" ev_model.txt \
    && grep -q "per class" ev_model.txt || fail "eval output: $(cat ev_model.txt)"
"$PY" - "$(basename "$CK" .h5)" <<'PY' || fail "eval report consistency"
import json, sys, h5py, numpy as np
m = json.load(open("ev_model.json"))
c = json.load(open("ev_%s.json" % sys.argv[1]))
e = json.load(open("ev_export.json"))
res = json.load(open("q/result.json"))
for k in ("images", "loss", "top1", "top5", "per_class", "confusion"):
    assert m[k] == c[k], ("checkpoint", k, m[k], c[k])
assert e["top1"] == m["top1"] and e["confusion"] == m["confusion"], (e["top1"], m["top1"])
labels = h5py.File("data.h5", "r")["test/labels"][()]
names = [s.decode() if isinstance(s, bytes) else s
         for s in h5py.File("data.h5", "r")["classes"][()]]
conf = np.array(m["confusion"])
N = len(labels)
assert m["images"] == N and conf.sum() == N
assert m["classes"] == names
# rows: the true classes, as counted from the labels
assert list(conf.sum(axis=1)) == list(np.bincount(labels, minlength=len(names)))
# the diagonal (host argmax) is the backend's own top-1 count
assert round(m["top1"] * N) == np.trace(conf), (m["top1"] * N, np.trace(conf))
assert m["top1"] <= m["top5"] <= 1
for k, pc in enumerate(m["per_class"]):
    assert pc["class"] == names[k] and pc["images"] == conf[k].sum()
    assert abs(pc["top1"] - conf[k, k] / conf[k].sum()) < 1e-12
# result.json: the final test evaluation in full, as eval computes it
ft = res["final_test"]
assert ft["confusion"] == m["confusion"] and ft["top5"] == m["top5"]
assert res["final_test_acc"] == ft["top1"] and res["final_test_top5"] == m["top5"]
PY

# top-1, top-5 and the confusion matrix of a model whose logits are known:
# the last layer's weights zeroed, its bias b: every image's logits are b
cp fp/model.h5 const.h5
"$PY" - <<'PY' || exit 2
import h5py, numpy as np
f = h5py.File("const.h5", "r+")
f["model/fc3.weight"][...] = 0
f["model/fc3.bias"][...] = np.array([0.1, 0.9, 0.3, 0.8, 0.0, 0.7, 0.2, 0.6, 0.5, 0.4], np.float32)
PY
$SINREQ eval --model const.h5 --data data.h5 --batch 32 --json const.json > /dev/null 2> err.txt \
    || fail "eval const.h5: $(cat err.txt)"
"$PY" - <<'PY' || fail "top-1/top-5/confusion of constant logits"
import json, h5py, numpy as np
r = json.load(open("const.json"))
y = h5py.File("data.h5", "r")["test/labels"][()]
top5 = {1, 3, 5, 7, 8}          # the five largest biases
assert abs(r["top1"] - np.mean(y == 1)) < 1e-12, (r["top1"], np.mean(y == 1))
assert abs(r["top5"] - np.mean([v in top5 for v in y])) < 1e-12, r["top5"]
conf = np.array(r["confusion"])
assert (conf[:, 1] == np.bincount(y, minlength=10)).all() and conf.sum() == conf[:, 1].sum()
pc = [c["top1"] for c in r["per_class"]]
assert pc[1] == 1 and all(pc[k] == 0 for k in range(10) if k != 1), pc
PY

# info: what each file is
expect_rc 0 "" $SINREQ info "$CK"
grep -q "sinreq checkpoint" out.txt && grep -q "epoch 1 of 1" out.txt \
    && grep -q "conv1 *yes *5" out.txt && grep -q "quantizer: wrpn" out.txt \
    || fail "info checkpoint: $(head -8 out.txt)"
expect_rc 0 "" $SINREQ info q/export.h5
grep -q "sinreq export" out.txt && grep -q "conv1.weight .*5-bit codes" out.txt \
    || fail "info export: $(head -30 out.txt)"
# damaged checkpoints: clear errors, not a description
head -c 3000 "$CK" > trunc.h5
expect_rc 1 "trunc.h5" $SINREQ info trunc.h5
expect_rc 1 "trunc.h5" $SINREQ eval --model trunc.h5 --data data.h5
cp "$CK" corrupt.h5
"$PY" - <<'PY'
import h5py
f = h5py.File("corrupt.h5", "r"); off = f["model/fc1.weight"].id.get_chunk_info(0).byte_offset; f.close()
with open("corrupt.h5", "r+b") as g:
    g.seek(off + 100); b = g.read(1); g.seek(off + 100); g.write(bytes([b[0] ^ 0xff]))
PY
expect_rc 1 "Fletcher32" $SINREQ eval --model corrupt.h5 --data data.h5
expect_rc 1 "Fletcher32" $SINREQ info corrupt.h5
# a checkpoint without the network description (older versions)
cp "$CK" nometa.h5
"$PY" -c 'import h5py; f = h5py.File("nometa.h5", "r+"); del f["meta"]'
expect_rc 1 "no group /meta" $SINREQ eval --model nometa.h5 --data data.h5

# info --config: the per-layer plan without training
cat > plan.yaml <<'Y'
net: cifar10net
quantizer: dorefa
bits: 3
layer_bits:
  conv1: 5
fp_layers: fc3
sinreq_lambda: 2
Y
expect_rc 0 "" $SINREQ info --config plan.yaml
grep -q "conv1 *conv2d *yes *5 *dorefa *0 *on *2" out.txt \
    && grep -q "fc1 *linear *yes *3 *dorefa *0 *on *2" out.txt \
    && grep -q "fc3 *linear *no *0 *none *0 *off *-" out.txt \
    || fail "info --config plan: $(cat out.txt)"
# flags override the file, as in train
expect_rc 0 "" $SINREQ info --config plan.yaml --bits 4 --sinreq-lambda 0
grep -q "fc1 *linear *yes *4 *dorefa *0 *off *-" out.txt || fail "info --config --bits 4: $(cat out.txt)"
echo "bitz: 3" > bad.yaml
expect_rc 1 "bad.yaml" $SINREQ info --config bad.yaml
expect_rc 1 "conv9" $SINREQ info --config plan.yaml --layer-bits conv9=4
finish
