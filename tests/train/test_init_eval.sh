# Fine-tuning from a full-precision model (--init), eval reproducing the
# run's final test accuracy, shape mismatches and corrupted model files.
. "$(dirname "$0")/lib.sh"
small_data
$T --data data.h5 --out fp --epochs 2 || fail "fp run rc $?"
# one step at a tiny lr from the FP model: the weights are (almost) the FP ones
$T --data data.h5 --out one --epochs 1 --max-steps 1 --lr 1e-9 --init fp/model.h5 \
    --quantizer wrpn --bits 4 --seed 7 || fail "one-step rc $?"
$T --data data.h5 --out fresh --epochs 1 --max-steps 1 --lr 1e-9 \
    --quantizer wrpn --bits 4 --seed 7 || fail "fresh rc $?"
"$PY" - <<'PY' || fail "--init did not load the FP weights"
import h5py, numpy as np
fp, one, fresh = (h5py.File(p + "/model.h5") for p in ("fp", "one", "fresh"))
for k in fp["model"]:
    a, b, c = fp["model"][k][()], one["model"][k][()], fresh["model"][k][()]
    assert np.abs(a - b).max() < 1e-6, k
    assert "running" in k or np.abs(a - c).max() > 1e-3, k
PY
$T --data data.h5 --out q4 --epochs 1 --init fp/model.h5 --quantizer wrpn \
    --bits 4 --sinreq-lambda 5 --lr 0.001 --hist-epochs last || fail "fine-tune rc $?"
grep -q "initialised from fp/model.h5" q4/train.log || fail "init not logged"
for run in fp q4; do
    $SINREQ eval --model $run/model.h5 --data data.h5 --batch 32 > ev.txt 2> everr.txt \
        || fail "eval $run rc $?: $(cat everr.txt)"
    acc=$(sed -n 's/.*top-1 \([0-9.]*\).*/\1/p' ev.txt)
    "$PY" -c "
import json, sys; r=json.load(open('$run/result.json'))
sys.exit(0 if abs(r['final_test_acc'] - float('$acc')) < 1e-9 else 1)" \
        || fail "eval $run: $acc vs result.json $(cat $run/result.json)"
done
expect_rc 0 "" $SINREQ info q4/model.h5
grep -q "conv1 *yes *4" out.txt || fail "info lacks the plan: $(head -20 out.txt)"
grep -q "parameters: 62006" out.txt || fail "info param count"
expect_rc 0 "" $SINREQ info data.h5
grep -q "/train" out.txt || fail "info dataset"
expect_rc 0 "" $SINREQ info --net resnet20
grep -q "272474" out.txt || fail "info --net resnet20 count: $(tail -2 out.txt)"
# shapes that do not fit: svhnnet from a cifar10net file
expect_rc 1 "/model/features.0.weight is missing" $T --data data.h5 --out bad --net svhnnet --init fp/model.h5
expect_rc 1 "has shape 6x3x5x5 but the network needs" $T --data data.h5 --out bad2 --width-mult 2 --init fp/model.h5
[ ! -e bad ] && [ ! -e bad2 ] || fail "failed --init created a run dir"
# corrupted and truncated model files
cp fp/model.h5 corrupt.h5
"$PY" - <<'PY'
import h5py
f = h5py.File("corrupt.h5", "r"); off = f["model/fc1.weight"].id.get_chunk_info(0).byte_offset; f.close()
with open("corrupt.h5", "r+b") as g:
    g.seek(off + 100); b = g.read(1); g.seek(off + 100); g.write(bytes([b[0] ^ 0xff]))
PY
expect_rc 1 "Fletcher32" $SINREQ eval --model corrupt.h5 --data data.h5
head -c 5000 fp/model.h5 > trunc.h5
expect_rc 1 "trunc.h5" $SINREQ eval --model trunc.h5 --data data.h5
expect_rc 1 "no such file" $SINREQ eval --model nothere.h5 --data data.h5
expect_rc 1 "neither a sinreq model nor a dataset" $SINREQ info q4/histograms.h5
finish
