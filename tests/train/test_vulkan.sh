# The Vulkan backend (lavapipe on CPU-only machines) against the CPU backend:
# the same 50-step run gives the same loss at every step (steps.tsv), for a
# float network, for 4-bit WRPN + SinReQ and for 4-bit DoReFa + SinReQ on
# DoReFa's rounding variable (--sinreq-domain x), for a float network with
# Nesterov, warm-up, label smoothing and gradient clipping (the step in two
# programs, the norm read in between); eval works on Vulkan.
. "$(dirname "$0")/lib.sh"
$SINREQ devices --backend vulkan > /dev/null 2>&1 || { echo "no Vulkan device"; exit 77; }
"$MKDS" data.h5 --train 1600 --test 60 || exit 2
n=0
for q in "none" "wrpn --bits 4 --sinreq-lambda 1" \
         "dorefa --bits 4 --quantize-ends fp --sinreq-lambda 5 --sinreq-domain x --diverge-factor 0 --max-abs-weight 0" \
         "none --nesterov --warmup-epochs 0.5 --label-smoothing 0.1 --clip-grad-norm 0.5"; do
    n=$((n + 1))
    tag=$n-${q%% *}
    for be in cpu vulkan; do
        $T --data data.h5 --out "$tag-$be" --epochs 1 --backend $be \
           --quantizer $q --max-steps 50 || fail "$tag $be run rc $?"
    done
    # Tolerance: the backends sum in different orders (float32), so losses
    # drift apart by rounding only; 1e-4 relative over 50 steps is ~100x the
    # drift seen here and far below what any wrong op produces (>1e-2).
    "$PY" - "$tag" <<'PY' || fail "$tag: vulkan vs cpu loss"
import sys
tag = sys.argv[1]
def losses(d):
    rows = [l.split("\t") for l in open(d + "/steps.tsv").read().split("\n")[1:] if l]
    return [float(r[2]) for r in rows]
a, b = losses(tag + "-cpu"), losses(tag + "-vulkan")
assert len(a) == len(b) == 50, (len(a), len(b))
worst = max(abs(x - y) / max(1.0, abs(x)) for x, y in zip(a, b))
print("%s: 50 steps, loss %.4f -> %.4f, max relative difference cpu/vulkan %.2e"
      % (tag, a[0], a[-1], worst))
assert worst < 1e-4, worst
PY
done
"$PY" -c 'import json; assert json.load(open("1-none-vulkan/result.json"))["backend"] == "vulkan"' \
    || fail "result.json backend"
$SINREQ eval --model 2-wrpn-vulkan/model.h5 --data data.h5 --backend vulkan --batch 32 > /dev/null \
    || fail "vulkan eval"
finish
