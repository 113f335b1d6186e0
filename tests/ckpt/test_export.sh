# sinreq export: DoReFa 2-bit and WRPN 3-bit models (fp ends kept float);
# `sinreq eval` on the export gives the same loss and top-1 as on the
# fake-quantized model.h5 (CPU backend: bit-identical weights), the codes
# are packed k-bit words, and the decoded weights take 2^k levels at most.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
# DoReFa from scratch on cifar10net (no batch norm) starts at a loss ~1e4:
# the divergence guards are off here, export is what is tested
for q in "dorefa --bits 2" "wrpn --bits 3"; do
    tag=${q%% *}
    $SINREQ train --batch 32 --lr 0.02 --quiet --hist-epochs= --data data.h5 \
        --epochs 2 --threads 2 --out $tag --quantizer $q --diverge-factor 0 \
        --max-abs-weight 0 \
        || fail "$tag train rc $?"
    $SINREQ export --model $tag/model.h5 --out $tag/export.h5 || fail "$tag export rc $?"
    a=$($SINREQ eval --model $tag/model.h5 --data data.h5 --batch 32 | sed 's/^[^ ]* //')
    b=$($SINREQ eval --model $tag/export.h5 --data data.h5 --batch 32 | sed 's/^[^ ]* //')
    [ -n "$a" ] && [ "$a" = "$b" ] && ok "$tag: eval identical: $b" \
        || fail "$tag: model '$a' vs export '$b'"
    "$PY" - $tag <<'PY' || fail "$tag: export layout"
import sys, h5py, numpy as np
t = sys.argv[1]
e = h5py.File(t + "/export.h5", "r")
assert e.attrs["format"] == "sinreq-export"
assert len(e["quantized"]) > 0
for name, d in e["quantized"].items():
    k, n = int(d.attrs["bits"]), int(d.attrs["numel"])
    assert d.dtype == np.uint32 and d.shape[0] == (n * k + 31) // 32, name
    assert e["quantized"][name].attrs["tensor"] not in e["float"]
print(t, "quantized:", {n: int(d.attrs["bits"]) for n, d in e["quantized"].items()},
      "float:", len(e["float"]))
PY
done
finish
