# --net FILE.yaml end to end: a user-written network trains for 2 steps,
# and its model file goes through eval, info and export; info --net prints
# the layer table; a bad network file stops train before any data is read,
# naming the file, line and layer.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 64 --test 40 --classes 4 --size 16 || exit 2
cat > tiny.yaml <<'NET'
# a small residual CNN for 3x16x16 images
input: [3, 16, 16]
classes: 4
layers:
  - {name: stem, op: conv, out: 8, kernel: 3, pad: 1, bias: false}
  - {name: stem_bn, op: batchnorm}
  - {name: stem_relu, op: relu}
  - block: block{i}
    repeat: 2
    layers:
      - {name: conv, op: conv, out: 8, kernel: 3, pad: 1}
      - {name: relu, op: relu}
      - {name: sum, op: add, inputs: [relu, in]}
  - {name: pool, op: maxpool, kernel: 2}
  - {name: gap, op: avgpool, size: 1}
  - {name: flat, op: flatten}
  - {name: fc, op: linear, out: classes}
NET

$SINREQ info --net tiny.yaml > info.txt 2> err.txt || fail "info rc $?: $(cat err.txt)"
grep -q "block1.conv  *conv2d  *8x16x16" info.txt || fail "info table: $(cat info.txt)"
# stem 216 + bn 16 + 2 x 584 + fc 36
grep -q "^parameters: 1436 " info.txt || fail "info count: $(tail -1 info.txt)"
# FLOPs per image, 2 per multiply-add: stem 8*256*27 + 2 blocks 8*256*72
# + fc 8*4 multiply-adds = 350240; resnet20: 40813184 (by hand, layer by
# layer, the 1x1 projection shortcuts included)
grep -q "forward FLOPs per image: 0.70 M" info.txt || fail "info FLOPs: $(grep FLOPs info.txt)"
$SINREQ info --net resnet20 | grep -q "forward FLOPs per image: 81.63 M" \
    || fail "resnet20 FLOPs: $($SINREQ info --net resnet20 | grep FLOPs)"

$T --data data.h5 --net tiny.yaml --out run --epochs 1 --max-steps 2 \
    --batch 16 --quantizer dorefa --bits 4 --sinreq-lambda 1 || fail "train rc $?"
"$PY" - <<'PY' || fail "run content"
import json, h5py
m = [json.loads(l) for l in open("run/metrics.jsonl")]
assert m[-1]["steps"] == 2, m
assert [l["name"] for l in m[-1]["layers"]] == \
    ["stem", "block0.conv", "block1.conv", "fc"], m[-1]["layers"]
f = h5py.File("run/model.h5", "r")
assert f.attrs["net"] == "tiny.yaml", f.attrs["net"]
# the network file's text travels with the model
assert f["network_file"][()].tobytes().decode() == open("tiny.yaml").read()
assert f["model/block1.conv.weight"].shape == (8, 8, 3, 3)
assert f["model/fc.weight"].shape == (4, 8)
PY
$SINREQ eval --model run/model.h5 --data data.h5 --batch 20 > ev.txt 2> err.txt \
    || fail "eval rc $?: $(cat err.txt)"
grep -q "top-1" ev.txt || fail "eval output: $(cat ev.txt)"
$SINREQ info run/model.h5 > mi.txt 2> err.txt || fail "info model rc $?: $(cat err.txt)"
grep -q "tiny.yaml" mi.txt || fail "info model: $(head -3 mi.txt)"
$SINREQ export --model run/model.h5 --out exp.h5 2> err.txt || fail "export rc $?: $(cat err.txt)"
$SINREQ eval --model exp.h5 --data data.h5 --batch 20 > ev2.txt 2> err.txt \
    || fail "eval export rc $?: $(cat err.txt)"
grep -q "network file stored in the model" mi.txt || fail "info model: $(head -3 mi.txt)"
# the model and its export need no network file: eval them with the file
# gone, then with another network under its name, and get the same result
mv tiny.yaml tiny.yaml.away
$SINREQ eval --model run/model.h5 --data data.h5 --batch 20 > ev3.txt 2> err.txt \
    || fail "eval without the network file rc $?: $(cat err.txt)"
$SINREQ eval --model exp.h5 --data data.h5 --batch 20 > ev4.txt 2> err.txt \
    || fail "eval export without the network file rc $?: $(cat err.txt)"
sed 's/out: 8/out: 5/' tiny.yaml.away > tiny.yaml
$SINREQ eval --model run/model.h5 --data data.h5 --batch 20 > ev5.txt 2> err.txt \
    || fail "eval with a changed network file rc $?: $(cat err.txt)"
cmp -s ev.txt ev3.txt || fail "eval differs without the file: $(diff ev.txt ev3.txt)"
cmp -s ev2.txt ev4.txt || fail "export eval differs without the file"
cmp -s ev.txt ev5.txt || fail "eval read the changed file: $(diff ev.txt ev5.txt)"
mv tiny.yaml.away tiny.yaml
# stopped after 2 steps and resumed: the checkpoint rebuilds the file's net
$T --data data.h5 --net tiny.yaml --out res --epochs 2 --batch 16 \
    --checkpoint-interval 1 --max-steps 2 || fail "res rc $?"
$T --data data.h5 --net tiny.yaml --out res --epochs 2 --batch 16 \
    --checkpoint-interval 1 --resume auto || fail "resume rc $?"
"$PY" -c "
import json; m = [json.loads(l) for l in open('res/metrics.jsonl')]
assert m[-1]['epoch'] == 2 and m[-1]['steps'] == 8, m[-1]" || fail "resumed run"
# net: in a config file works the same
printf 'net: tiny.yaml\nepochs: 1\nmax_steps: 1\n' > cfg.yaml
$T --config cfg.yaml --data data.h5 --out run2 --batch 16 || fail "config net: rc $?"

# a model file without the stored text (as older versions wrote) names the
# file it needs when that file is gone
cp run/model.h5 old.h5
"$PY" -c "import h5py; f = h5py.File('old.h5', 'a'); del f['network_file']" \
    || fail "strip network_file"
mv tiny.yaml moved.yaml
expect_rc 1 "network file tiny.yaml" $SINREQ eval --model old.h5 --data data.h5
mv moved.yaml tiny.yaml

sed 's/inputs: \[relu, in\]/inputs: [relu, stem_bn, in]/' tiny.yaml > bad.yaml
expect_rc 1 "bad.yaml:13: layer block0.sum: add needs inputs" \
    $T --data data.h5 --net bad.yaml --out bad --max-steps 1
[ -e bad ] && fail "a bad network file left a run directory"
expect_rc 1 "bad.yaml:13: layer block0.sum" $SINREQ info --net bad.yaml
# the file's layers do not fit the data: 8x8 images are too small for c2
cat > fixed.yaml <<'NET'
input: [3, 16, 16]
classes: 4
layers:
  - {name: c1, op: conv, out: 4, kernel: 5}
  - {name: pool, op: maxpool, kernel: 2}
  - {name: c2, op: conv, out: 4, kernel: 5}
  - {name: flat, op: flatten}
  - {name: fc, op: linear, out: classes}
NET
$T --data data.h5 --net fixed.yaml --out fits --max-steps 1 || fail "fixed.yaml on 16x16: rc $?"
"$MKDS" small.h5 --train 32 --test 16 --classes 4 --size 8 || exit 2
expect_rc 1 "fixed.yaml:6: layer c2: .*smaller than the 5x5 kernel" \
    $T --data small.h5 --net fixed.yaml --out small --max-steps 1
finish
