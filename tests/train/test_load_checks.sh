# eval and export check a model file the same way, against the network it
# describes: a NaN/Inf anywhere (one element, a whole tensor, a bias, a BN
# running statistic), bits 0 or 17, an unknown quantizer, a missing tensor,
# a transposed tensor (same element count), a plan that is not the
# network's, a bad normalisation: exit 1 from both, the same message
# naming the file, the tensor or attribute and the first bad element, and
# no export written. export --out naming the model itself (the same path,
# another spelling, a hard link) is refused and the model kept.
. "$(dirname "$0")/lib.sh"
small_data
$T --data data.h5 --out q --epochs 1 --quantizer wrpn --bits 4 \
    --act-bits 4 || fail "train q rc $?"
$T --data data.h5 --out bn --net resnet20 --epochs 1 --max-steps 1 \
    --quantizer dorefa --bits 3 || fail "train bn rc $?"
for m in q bn; do
    $SINREQ eval --model $m/model.h5 --data data.h5 > /dev/null \
        || fail "$m: the intact model: eval rc $?"
    $SINREQ export --model $m/model.h5 --out $m.exp.h5 \
        || fail "$m: the intact model: export rc $?"
done

# mangle SRC NAME PYTHON: NAME.h5 = SRC/model.h5 changed by PYTHON (f open r+)
mangle() {
    cp "$1/model.h5" "$2.h5"
    "$PY" - "$2.h5" "$3" <<'PY' || fail "$2: could not mangle"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
def put(name, fn):
    a = f[name][()]; fn(a); f[name][...] = a
def attr(obj, key, i, v):
    a = f[obj].attrs[key].copy(); a[i] = v; f[obj].attrs[key] = a
exec(sys.argv[2])
f.close()
PY
}
# refused NAME PATTERN: eval and export of NAME.h5 both exit 1 with the same
# message, which contains PATTERN; no export file
refused() {
    rm -f "$1.out.h5"
    $SINREQ eval --model "$1.h5" --data data.h5 > out.txt 2> eval.txt
    local re=$?
    $SINREQ export --model "$1.h5" --out "$1.out.h5" 2> export.txt
    local rx=$?
    local me mx
    me=$(sed 's/^sinreq eval: //' eval.txt)
    mx=$(sed 's/^sinreq export: //' export.txt)
    if [ $re != 1 ] || [ $rx != 1 ]; then
        fail "$1: eval rc $re, export rc $rx (want 1, 1): $(cat out.txt eval.txt export.txt)"
    elif ! grep -qF -- "$2" eval.txt; then
        fail "$1: eval's message lacks '$2': $(cat eval.txt)"
    elif [ "$me" != "$mx" ]; then
        fail "$1: eval and export differ: '$me' vs '$mx'"
    elif [ -e "$1.out.h5" ] || [ -e "$1.out.h5.tmp" ]; then
        fail "$1: an export was written"
    else
        ok "$1: $me"
    fi
}

mangle q nan1 'put("model/conv2.weight", lambda a: a.__setitem__((1, 2, 0, 3), np.nan))'
refused nan1 "nan1.h5: /model/conv2.weight has a non-finite value nan at element 203 [1][2][0][3]"
mangle q allnan 'put("model/fc1.weight", lambda a: a.fill(np.nan))'
refused allnan "/model/fc1.weight has a non-finite value nan at element 0 [0][0]"
mangle q inf 'put("model/fc3.bias", lambda a: a.__setitem__(5, -np.inf))'
refused inf "/model/fc3.bias has a non-finite value -inf at element 5 [5]"
mangle bn bnvar 'put("model/layer2.1.bn1.running_var", lambda a: a.__setitem__(7, np.nan))'
refused bnvar "/model/layer2.1.bn1.running_var has a non-finite value nan at element 7 [7]"
mangle bn bnneg 'put("model/bn1.running_var", lambda a: a.__setitem__(3, -0.5))'
refused bnneg "/model/bn1.running_var has a negative (running variance) value -0.5 at element 3"
mangle bn bnmean 'put("model/layer3.0.bn2.running_mean", lambda a: a.__setitem__(0, np.inf))'
refused bnmean "/model/layer3.0.bn2.running_mean has a non-finite value inf at element 0"
mangle q bits0 'attr("quant", "bits", 1, 0)'
refused bits0 "/quant@bits[1] (layer conv2) is 0"
mangle q bits17 'attr("quant", "bits", 2, 17)'
refused bits17 "/quant@bits[2] (layer fc1) is 17"
mangle q bits1 'attr("quant", "bits", 2, 1)'
refused bits1 "wrpn weight bits = 1 outside [2, 16]"
mangle q abits 'attr("quant", "act_bits", 0, 4)'
refused abits "layer conv1: the stored plan (quantized 1, 4 bits, activations 4 bits) is not one cifar10net can run"
mangle q quant 'f.attrs["quantizer"] = "ternary"'
refused quant "quant.h5: unknown quantizer 'ternary'"
mangle q noq 'f.attrs["quantizer"] = "none"'
refused noq "layer conv1 is quantized but the quantizer is 'none'"
mangle q missing 'del f["model/fc2.bias"]'
refused missing "missing.h5: /model/fc2.bias is missing"
mangle q transposed 'a = f["model/fc2.weight"][()]; del f["model/fc2.weight"]; f["model"].create_dataset("fc2.weight", data=np.ascontiguousarray(a.T))'
refused transposed "/model/fc2.weight has shape 120x84 but the network needs 84x120"
mangle q layername 'attr("quant", "layers", 3, "fc9")'
refused layername "/quant@layers[3] is 'fc9' but conv/linear layer 3 of cifar10net is 'fc2'"
mangle q std 'f.attrs["norm_std"] = np.array([0.2, 0.0, 0.2], dtype=np.float32)'
refused std "/@norm_std[1] = 0"

# damaged exports (eval decodes them): a NaN float tensor, codes whose
# attributes disagree with their words, a WRPN code above 2m, a quantized
# layer's weight stored as float32
xmangle() {
    cp q.exp.h5 "$1.h5"
    "$PY" - "$1.h5" "$2" <<'PY' || fail "$1: could not mangle"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
exec(sys.argv[2])
f.close()
PY
    expect_rc 1 "$3" $SINREQ eval --model "$1.h5" --data data.h5
}
xmangle x_nan 'a = f["float/fc2.bias"][()]; a[4] = np.nan; f["float/fc2.bias"][...] = a' \
    "x_nan.h5: tensor fc2.bias has a non-finite value nan at element 4"
xmangle x_bits 'f["quantized/conv2"].attrs["bits"] = np.int32(3)' \
    "/quantized/conv2 has 300 words, numel 2400 and shape of 2400 elements; 225 words of 3-bit codes expected"
xmangle x_code 'a = f["quantized/fc3"][()]; a[0] |= 0xf; f["quantized/fc3"][...] = a' \
    "/quantized/fc3: code 15 at element 0 is outside 0..14"
xmangle x_float 'del f["quantized/fc2"]; f["float"].create_dataset("fc2.weight", data=np.zeros((84, 120), np.float32))' \
    "tensor fc2.weight is stored as float32 but layer fc2 is quantized to 4 bits"
xmangle x_missing 'del f["quantized/fc2"]' "tensor fc2.weight is missing"

# --out is the model itself: the same path, another spelling, a hard link
cp q/model.h5 keep.h5
ln q/model.h5 link.h5
for o in q/model.h5 ./q/../q/model.h5 link.h5; do
    expect_rc 1 "is the model file" $SINREQ export --model q/model.h5 --out $o
done
cmp -s keep.h5 q/model.h5 && ok "the model is unchanged" || fail "the model changed"
ls q/*.tmp > /dev/null 2>&1 && fail "a .tmp was left: $(ls q)"
finish
