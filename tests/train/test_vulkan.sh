# A short run on the Vulkan backend (lavapipe on CPU-only machines).
. "$(dirname "$0")/lib.sh"
$SINREQ devices --backend vulkan > /dev/null 2>&1 || { echo "no Vulkan device"; exit 77; }
small_data
$T --data data.h5 --out vk --epochs 1 --backend vulkan --quantizer wrpn --bits 4 \
   --sinreq-lambda 1 --max-steps 3 || fail "vulkan run rc $?"
$T --data data.h5 --out cpu --epochs 1 --backend cpu --quantizer wrpn --bits 4 \
   --sinreq-lambda 1 --max-steps 3 || fail "cpu run rc $?"
"$PY" - <<'PY' || fail "vulkan vs cpu"
import json
a = json.loads(open("vk/metrics.jsonl").readline())
b = json.loads(open("cpu/metrics.jsonl").readline())
assert abs(a["train_loss"] - b["train_loss"]) < 1e-3 * max(1, abs(b["train_loss"])), (a, b)
assert json.load(open("vk/result.json"))["backend"] == "vulkan"
PY
$SINREQ eval --model vk/model.h5 --data data.h5 --backend vulkan --batch 32 > /dev/null || fail "vulkan eval"
finish
