# A user-written network under data parallelism: nets/mobilenet_v1.yaml
# (depthwise-separable blocks) trains on 2 ranks with DoReFa 4-bit weights
# and SinReQ for 3 steps. Checked: the job ends 0; every step's loss is
# finite; the quantized layers include the depthwise convs, with a SinReQ
# value R in (0, 1] (a mean of sin^2); the model holds a depthwise weight
# of PyTorch's shape (c, 1, 3, 3) that training moved away from the
# initialisation a 1-step run of the same seed leaves behind.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 64 --test 16 || exit 2
NET="${NETS:?nets folder}/mobilenet_v1.yaml"
A="--net $NET --data data.h5 --batch 8 --epochs 1 --threads 1 --augment none --quiet --hist-epochs= --quantizer dorefa --bits 4 --sinreq-lambda 1 --seed 5 --backend $BACKEND"
mpi 2 $SINREQ train $A --max-steps 3 --out two > two.txt 2>&1 \
    || { fail "2 ranks rc $?: $(tail -5 two.txt)"; finish; }
mpi 2 $SINREQ train $A --max-steps 1 --out one > one.txt 2>&1 \
    || { fail "2 ranks, 1 step rc $?: $(tail -5 one.txt)"; finish; }
"$PY" - <<'PY' > chk.txt 2>&1 && ok "$(cat chk.txt)" || fail "$(cat chk.txt)"
import json, math, sys, h5py, numpy as np
m = [json.loads(l) for l in open("two/metrics.jsonl")]
last = m[-1]
assert last["steps"] == 3, last
assert all(math.isfinite(r["train_loss"]) for r in m if "train_loss" in r), m
names = [l["name"] for l in last["layers"]]
assert "layers.0.conv1" in names and "layers.12.conv1" in names, names
dw = [l for l in last["layers"] if l["name"] == "layers.5.conv1"][0]
assert dw["bits"] == 4 and 0 < dw["R"] <= 1, dw
w3 = h5py.File("two/model.h5", "r")["model/layers.5.conv1.weight"][()]
w1 = h5py.File("one/model.h5", "r")["model/layers.5.conv1.weight"][()]
assert w3.shape == (256, 1, 3, 3), w3.shape
moved = float(np.max(np.abs(w3 - w1)))
assert moved > 0, "3 steps left the depthwise weight where 1 step did"
print("mobilenet_v1 on 2 ranks: 3 steps, %d quantized layers, layers.5.conv1 "
      "R %.4f, weight moved %.3g" % (len(names), dw["R"], moved))
PY
finish
