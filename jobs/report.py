#!/usr/bin/env python3
"""The paper's table from a grid's run directories (PAPER.md section 7).

    jobs/report.py GRID_DIR [--md OUT.md]

GRID_DIR holds fp/ and <quantizer><bits>-lambda<L>/ run directories (as
jobs/cifar10net_grid.sh writes them). Accuracy is each run's final test
accuracy (result.json). For every (quantizer, bits) cell:
    gain       = acc(base + SinReQ) - acc(base)          (points)
    gap closed = gain / (acc(FP) - acc(base))            (only where the gap
                                                          is >= 0.5 points)
and per quantizer the mean gain and the pooled share of the gap closed,
sum(gain) / sum(FP - base), the headline figure. Then per-layer quantization
error mean|W - Q(W)| and R_l at the last epoch, without and with SinReQ.
"""
import argparse
import glob
import json
import os
import re
import sys


def load(run):
    try:
        with open(os.path.join(run, "result.json")) as f:
            res = json.load(f)
    except (OSError, ValueError):
        return None
    layers = []
    try:
        with open(os.path.join(run, "metrics.jsonl")) as f:
            lines = [l for l in f if l.strip()]
        layers = json.loads(lines[-1]).get("layers", []) if lines else []
    except (OSError, ValueError):
        pass
    return {"acc": 100.0 * res["final_test_acc"], "layers": layers,
            "epochs": res.get("epochs"), "wall_s": res.get("wall_s")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grid")
    ap.add_argument("--md", help="also write the report to this file")
    a = ap.parse_args()

    fp = load(os.path.join(a.grid, "fp"))
    if fp is None:
        sys.exit("report: %s/fp/result.json missing: the full-precision run "
                 "did not finish" % a.grid)
    cells = {}  # (quant, bits) -> {lambda: run}
    for d in sorted(glob.glob(os.path.join(a.grid, "*-lambda*"))):
        m = re.fullmatch(r"(dorefa|wrpn)(\d+)-lambda([0-9.e+-]+)",
                         os.path.basename(d))
        if m:
            cells.setdefault((m[1], int(m[2])), {})[float(m[3])] = load(d)

    out = []
    out.append("Full precision: %.2f%% test top-1 (%s epochs, %.0f s)\n"
               % (fp["acc"], fp["epochs"], fp["wall_s"] or 0))
    out.append("| quantizer | bits | base | + SinReQ | gain (points) "
               "| FP - base | gap closed |")
    out.append("|---|---|---|---|---|---|---|")
    summary = {}
    for (q, bits) in sorted(cells):
        runs = cells[(q, bits)]
        base = runs.get(0.0)
        reg = [runs[l] for l in sorted(runs) if l > 0]
        reg = reg[0] if reg else None
        fmt = lambda r: "%.2f" % r["acc"] if r else "failed"
        row = [q, str(bits), fmt(base), fmt(reg)]
        if base and reg:
            gain = reg["acc"] - base["acc"]
            gap = fp["acc"] - base["acc"]
            row += ["%+.2f" % gain, "%.2f" % gap,
                    "%.1f%%" % (100 * gain / gap) if gap >= 0.5 else "n/a (gap < 0.5)"]
            s = summary.setdefault(q, [0.0, 0.0, 0])
            s[0] += gain
            s[1] += gap
            s[2] += 1
        else:
            row += ["", "", ""]
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    for q, (g, gap, n) in sorted(summary.items()):
        pooled = "%.1f%%" % (100 * g / gap) if gap > 0 else "n/a"
        out.append("%s: mean gain %+.2f points over %d cells; pooled gap "
                   "closed sum(gain)/sum(FP-base) = %s" % (q, g / n, n, pooled))
    out.append("")
    out.append("Per-layer quantization error mean|W - Q(W)| and R_l at the "
               "last epoch (without -> with SinReQ):\n")
    out.append("| quantizer | bits | layer | qerr base | qerr SinReQ | R base | R SinReQ |")
    out.append("|---|---|---|---|---|---|---|")
    for (q, bits) in sorted(cells):
        runs = cells[(q, bits)]
        base = runs.get(0.0)
        reg = [runs[l] for l in sorted(runs) if l > 0]
        reg = reg[0] if reg else None
        if not (base and reg):
            continue
        by = {l["name"]: l for l in reg["layers"]}
        for l in base["layers"]:
            r = by.get(l["name"])
            if r:
                out.append("| %s | %d | %s | %.4g | %.4g | %.3g | %.3g |"
                           % (q, bits, l["name"], l["qerr"], r["qerr"],
                              l["R"], r["R"]))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
