# The checkpoint loader checks what it restores against the network and the
# run: full shapes (a transposed tensor has the right element count),
# finite weights and momentum, the per-layer plan (bits 9 in a 4-bit run),
# and progress fields that agree with each other and the config. Each
# damaged copy (written with h5py, so its checksums are valid) is refused by
# --resume PATH with exit 1 and a message naming the file and the field.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
# checkpoints at steps 6, 8 (epoch end) and 9 (epoch 2, step 1)
$R --out w --checkpoint-interval 3 --max-steps 9 || fail "first part rc $?"
src=w/ckpt/ckpt-e0002-s000000009.h5
[ -e $src ] || { fail "$src missing"; finish; }
$R --out intact --resume $src --max-steps 10 > /dev/null 2>&1 \
    || fail "the intact checkpoint does not load: rc $?"

# bad NAME PATTERN PYTHON: a copy changed by PYTHON (f open r+) is refused
bad() {
    cp $src $1.h5
    "$PY" - $1.h5 "$3" <<'PY' || { fail "$1: could not mangle"; return; }
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
def put(name, fn):
    a = f[name][()]; fn(a); f[name][...] = a
def attr(obj, key, v, i=None):
    if i is None:
        f[obj].attrs[key] = v
    else:
        a = f[obj].attrs[key].copy(); a[i] = v; f[obj].attrs[key] = a
exec(sys.argv[2])
f.close()
PY
    expect_rc 1 "$2" $R --out run_$1 --resume $1.h5 --max-steps 10
    grep -q "$1.h5" err.txt || fail "$1: the message does not name the file"
}
bad transposed "/model/fc2.weight has shape 120x84 but the network needs 84x120" \
    'a = f["model/fc2.weight"][()]; del f["model/fc2.weight"]; f["model"].create_dataset("fc2.weight", data=np.ascontiguousarray(a.T))'
bad mom_t "/momentum/fc1.weight has shape 400x120 but the network needs 120x400" \
    'a = f["momentum/fc1.weight"][()]; del f["momentum/fc1.weight"]; f["momentum"].create_dataset("fc1.weight", data=np.ascontiguousarray(a.T))'
bad mom_nan "/momentum/conv1.weight has a non-finite value nan at element 1" \
    'put("momentum/conv1.weight", lambda a: a.__setitem__((0, 0, 0, 1), np.nan))'
bad w_inf "/model/fc3.bias has a non-finite value inf at element 2" \
    'put("model/fc3.bias", lambda a: a.__setitem__(2, np.inf))'
bad complete "/progress@step_in_epoch is 1 with epoch_complete 1, but an epoch has 8 steps" \
    'attr("progress", "epoch_complete", np.int64(1))'
bad bits9 "layer conv2: /quant@quantized, @bits, @act_bits are 1, 9, 0" \
    'attr("quant", "bits", 9, 1)'
bad abits "layer fc1: /quant@quantized, @bits, @act_bits are 1, 4, 4" \
    'attr("quant", "act_bits", 4, 2)'
bad quantizer "/quant@quantizer is 'dorefa' but this run's is 'wrpn'" \
    'attr("quant", "quantizer", "dorefa")'
bad seen "/metrics@train_seen -32, @train_correct" \
    'attr("metrics", "train_seen", np.int64(-32))'
bad correct "@train_correct 1000 do not fit" \
    'attr("metrics", "train_correct", np.int64(1000))'
bad lr "/schedule@lr nan" 'attr("schedule", "lr", np.float64("nan"))'
bad loss "/metrics@train_loss_sum is inf" \
    'attr("metrics", "train_loss_sum", np.float64("inf"))'
bad epoch "/progress@epoch is 4 (1..3 expected)" \
    'attr("progress", "epoch", np.int64(4)); attr("progress", "global_step", np.int64(25))'
bad epochs "/progress@epochs is 5 but this run has 3" \
    'attr("progress", "epochs", np.int64(5))'
finish
