# Batch-norm running statistics under data parallelism (resnet20, BN after
# every conv). Each rank updates its running statistics from its own 8-row
# shard; the trainer averages them over ranks before an evaluation, a
# checkpoint or the final model. Checked:
#  1. the first BN (bn1, whose input conv1(x) does not depend on any other
#     BN's batch statistics): with the parameters held still (lr 1e-9, no
#     momentum or decay) the running mean is linear in the batch means, so
#     the average over 2 ranks x 8 rows equals 1 rank x 16 rows up to float32
#     rounding (tolerance 1e-5 relative; measured 2e-7). Statistics from
#     other rows differ at once: a 1-rank run at batch 8 (same step count)
#     ends 3.4x max|mean| away, so a rank that kept its own shard's
#     statistics would fail this by far.
#     Deeper BNs see activations normalised with 8-row instead of 16-row
#     batch statistics, so they differ for real (~1%) and are not compared;
#     nor are running variances (the shards' unbiased variances miss the
#     between-shard term).
#  2. the statistics the 2-rank run evaluated with are the ones it saved:
#     its sharded, reduced final test loss equals a single-process
#     `sinreq eval` of its model.h5 (1e-5 relative).
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 128 --test 32 || exit 2
A="--net resnet20 --lr 1e-9 --momentum 0 --weight-decay 0 --quiet --hist-epochs= --data data.h5 --epochs 1 --threads 1 --augment none --backend $BACKEND"
$SINREQ train $A --batch 16 --out one || { fail "1 rank rc $?"; finish; }
mpi 2 $SINREQ train $A --batch 8 --out two > two.txt 2>&1 \
    || { fail "2 ranks rc $?: $(tail -5 two.txt)"; finish; }
"$PY" - <<'PY' > bn.txt 2>&1 && ok "$(cat bn.txt)" || fail "$(cat bn.txt)"
import h5py, numpy as np, sys
a, b = (h5py.File(d + "/model.h5", "r")["model"]["bn1.running_mean"][()].astype(np.float64)
        for d in ("one", "two"))
r = np.max(np.abs(a - b)) / np.max(np.abs(a))
moved = np.max(np.abs(a))  # from 0: the statistics were updated at all
print("bn1.running_mean 2 ranks vs 1: relative difference %.3g (max |mean| %.3g)" % (r, moved))
sys.exit(0 if r <= 1e-5 and moved > 1e-3 else 1)
PY
$SINREQ eval --model two/model.h5 --data data.h5 --threads 1 --backend $BACKEND > eval.txt 2>&1 \
    || fail "eval rc $?: $(cat eval.txt)"
"$PY" - <<'PY' > ev.txt 2>&1 && ok "$(cat ev.txt)" || fail "$(cat ev.txt)"
import json, re, sys
e = float(re.search(r"loss ([0-9.]+)", open("eval.txt").read()).group(1))
t = json.load(open("two/result.json"))["final_test_loss"]
print("final test loss: 2-rank sharded %.6f, single-process eval of model.h5 %.6f" % (t, e))
sys.exit(0 if abs(e - t) <= 1e-5 * abs(t) else 1)
PY
finish
