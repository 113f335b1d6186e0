"""tol.py RUN_1 RUN_2: the final parameters of two runs agree within
RTOL = 1e-5 relative to each tensor's largest magnitude (max |a-b| <=
RTOL * max|a|), the per-step losses within 1e-5 relative, and the test
accuracies within 1 image (measured: parameters 4e-7 on the CPU backend,
9e-7 on lavapipe; losses 2e-7 / 4e-7). Prints the largest differences seen."""
import json, sys
import h5py
import numpy as np

RTOL = 1e-5
a, b = h5py.File(sys.argv[1] + "/model.h5", "r"), h5py.File(sys.argv[2] + "/model.h5", "r")
worst, bad = 0.0, []
for k in sorted(a["model"]):
    x, y = a["model"][k][()].astype(np.float64), b["model"][k][()].astype(np.float64)
    r = np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-30)
    worst = max(worst, r)
    if r > RTOL:
        bad.append("%s %.3g" % (k, r))
def losses(d):
    rows = [l.split("\t") for l in open(d + "/steps.tsv").read().splitlines()[1:]]
    return np.array([float(r[2]) for r in rows])
la, lb = losses(sys.argv[1]), losses(sys.argv[2])
lw = np.max(np.abs(la - lb) / np.abs(la)) if len(la) == len(lb) else np.inf
ta = json.load(open(sys.argv[1] + "/result.json"))["final_test_acc"]
tb = json.load(open(sys.argv[2] + "/result.json"))["final_test_acc"]
msg = ("parameters: largest relative difference %.3g (tolerance %g); "
       "losses %.3g; test acc %.4f vs %.4f" % (worst, RTOL, lw, ta, tb))
if bad or lw > RTOL or abs(ta - tb) > 0.011:
    print("FAIL:", msg, bad)
    sys.exit(1)
print(msg)
