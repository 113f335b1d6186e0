"""compare.py A.h5 B.h5 [RUN_A RUN_B]: every /model tensor of two model
files bit for bit; with run dirs, also metrics.jsonl (timings and the
gradient schedule aside) and steps.tsv. Exit 1 on any difference."""
import json, sys
import h5py
import numpy as np

a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
ka, kb = sorted(a["model"]), sorted(b["model"])
assert ka == kb, (ka, kb)
bad = [k for k in ka
       if a["model"][k][()].tobytes() != b["model"][k][()].tobytes()]
if bad:
    print("tensors differ:", bad)
    sys.exit(1)
print("%d tensors bit-identical" % len(ka))
if len(sys.argv) > 4:
    ra, rb = sys.argv[3], sys.argv[4]
    def metrics(d):
        rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
        # timings (images_per_s, wall_s, step_s, ..._s) and the gradient
        # schedule (allreduce_*) aside: results only
        for r in rows:
            for k in [k for k in r if k == "images_per_s" or
                      k.endswith("_s") or k.startswith("allreduce_")]:
                r.pop(k)
        return rows
    ma, mb = metrics(ra), metrics(rb)
    if ma != mb:
        print("metrics.jsonl differ:\n", ma, "\n", mb)
        sys.exit(1)
    sa, sb = open(ra + "/steps.tsv").read(), open(rb + "/steps.tsv").read()
    if sa != sb:
        print("steps.tsv differ")
        sys.exit(1)
    print("metrics.jsonl (%d epochs) and steps.tsv identical" % len(ma))
