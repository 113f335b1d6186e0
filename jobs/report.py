#!/usr/bin/env python3
"""The paper's table from a grid's run directories (PAPER.md section 7).

    jobs/report.py GRID_DIR [--md OUT.md]

GRID_DIR holds fp/ and <quantizer><bits>-lambda<L>[-seed<S>]/ run
directories (as jobs/cifar10net_grid.sh writes them; no -seed suffix means
one seed). Accuracy is each run's final test accuracy (result.json). Every
figure is the mean over the seeds present, with the sample standard
deviation after +- when there are two or more. For every (quantizer, bits)
cell:
    gain       = acc(base + SinReQ) - acc(base)          (points; per seed,
                                                          then mean +- sd)
    gap closed = mean gain / (acc(FP) - mean acc(base))  (only where the gap
                                                          is >= 0.5 points)
and per quantizer the mean gain and the pooled share of the gap closed,
sum(gain) / sum(FP - base), the headline figure (also per seed, mean +- sd).
A seed counts in a cell only when both its runs (base, SinReQ) finished.
Then per-layer quantization error mean|W - Q(W)| and R_l at the last epoch,
without and with SinReQ (mean over seeds).
"""
import argparse
import glob
import json
import math
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


def mean_sd(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def fmt(xs, spec="%.2f", sign=False):
    if not xs:
        return "failed"
    m, sd = mean_sd(xs)
    s = (("%+" + spec[1:]) if sign else spec) % m
    return s if sd is None else s + " +- " + spec % sd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grid")
    ap.add_argument("--md", help="also write the report to this file")
    a = ap.parse_args()

    fp = load(os.path.join(a.grid, "fp"))
    if fp is None:
        sys.exit("report: %s/fp/result.json missing: the full-precision run "
                 "did not finish" % a.grid)
    cells = {}  # (quant, bits) -> {seed: {lambda: run or None}}
    for d in sorted(glob.glob(os.path.join(a.grid, "*-lambda*"))):
        m = re.fullmatch(r"(dorefa|wrpn)(\d+)-lambda([0-9.e+-]+?)(?:-seed(\d+))?",
                         os.path.basename(d))
        if m:
            seed = int(m[4]) if m[4] else 0
            cells.setdefault((m[1], int(m[2])), {}).setdefault(seed, {})[
                float(m[3])] = load(d)
    if not cells:
        sys.exit("report: no <quantizer><bits>-lambda<L> runs in %s" % a.grid)

    def pairs(q, bits):
        """[(seed, base, reg)] for the seeds where both runs finished."""
        out = []
        for seed, runs in sorted(cells[(q, bits)].items()):
            base = runs.get(0.0)
            reg = [runs[l] for l in sorted(runs) if l > 0]
            if base and reg and reg[0]:
                out.append((seed, base, reg[0]))
        return out

    seeds = sorted({s for c in cells.values() for s in c})
    out = []
    out.append("Full precision: %.2f%% test top-1 (%s epochs, %.0f s)\n"
               % (fp["acc"], fp["epochs"], fp["wall_s"] or 0))
    out.append("Seeds: %s (figures are mean +- sample sd over the seeds "
               "where both runs of a cell finished)\n"
               % (", ".join(map(str, seeds)) if seeds != [0] else "one"))
    out.append("| quantizer | bits | seeds | base | + SinReQ | gain (points) "
               "| FP - base | gap closed |")
    out.append("|---|---|---|---|---|---|---|---|")
    pooled = {}  # quant -> {seed: [sum gain, sum gap]}, and "all"
    for (q, bits) in sorted(cells):
        p = pairs(q, bits)
        if not p:
            out.append("| %s | %d | 0 | failed | failed | | | |" % (q, bits))
            continue
        base = [b["acc"] for _, b, _ in p]
        reg = [r["acc"] for _, _, r in p]
        gain = [r - b for b, r in zip(base, reg)]
        gap = fp["acc"] - mean_sd(base)[0]
        mg = mean_sd(gain)[0]
        closed = ("%.1f%%" % (100 * mg / gap) if gap >= 0.5
                  else "n/a (gap < 0.5)")
        out.append("| %s | %d | %d | %s | %s | %s | %.2f | %s |"
                   % (q, bits, len(p), fmt(base), fmt(reg),
                      fmt(gain, sign=True), gap, closed))
        for seed, b, r in p:
            s = pooled.setdefault(q, {}).setdefault(seed, [0.0, 0.0, 0])
            s[0] += r["acc"] - b["acc"]
            s[1] += fp["acc"] - b["acc"]
            s[2] += 1
    out.append("")
    for q, per_seed in sorted(pooled.items()):
        g = [v[0] / v[2] for v in per_seed.values()]
        share = [100 * v[0] / v[1] for v in per_seed.values() if v[1] > 0]
        out.append("%s: mean gain %s points per cell; pooled gap closed "
                   "sum(gain)/sum(FP-base) = %s%%"
                   % (q, fmt(g, sign=True), fmt(share, "%.1f")))
    out.append("")
    out.append("Per-layer quantization error mean|W - Q(W)| and R_l at the "
               "last epoch, mean over seeds (without -> with SinReQ):\n")
    out.append("| quantizer | bits | layer | qerr base | qerr SinReQ | R base | R SinReQ |")
    out.append("|---|---|---|---|---|---|---|")
    for (q, bits) in sorted(cells):
        p = pairs(q, bits)
        if not p:
            continue
        acc = {}  # layer -> [qerr base, qerr reg, R base, R reg] lists
        order = []
        for _, b, r in p:
            by = {l["name"]: l for l in r["layers"]}
            for l in b["layers"]:
                rl = by.get(l["name"])
                if not rl:
                    continue
                if l["name"] not in acc:
                    acc[l["name"]] = [[], [], [], []]
                    order.append(l["name"])
                for i, v in enumerate((l["qerr"], rl["qerr"], l["R"], rl["R"])):
                    acc[l["name"]][i].append(v)
        for name in order:
            v = [mean_sd(x)[0] for x in acc[name]]
            out.append("| %s | %d | %s | %.4g | %.4g | %.3g | %.3g |"
                       % (q, bits, name, v[0], v[1], v[2], v[3]))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
