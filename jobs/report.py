#!/usr/bin/env python3
"""The paper's table from a grid's run directories (docs/method.md, "The claim and how it is measured").

    jobs/report.py GRID_DIR [--md OUT.md [--no-figure]]

GRID_DIR holds fp/ and <quantizer><bits>-lambda<L>[-seed<S>]/ run
directories (as jobs/cifar10net_grid.sh writes them; no -seed suffix means
one seed), or one such directory per network, GRID_DIR/<net>/ (as
jobs/paper_grid.sh writes them): then a section per network, and the
paper's headline over networks and bit widths (pooled per seed, so a
network counts as many times as it has cells), plus a compact table of
base -> SinReQ accuracy per network, quantizer and bit width. Accuracy is each run's final test accuracy (result.json). Every
figure is the mean over the seeds present, with the sample standard
deviation after +- when there are two or more. For every (quantizer, bits)
cell:
    gain       = acc(base + SinReQ) - acc(base)          (points; per seed,
                                                          then mean +- sd)
    gap closed = mean gain / (acc(FP) - mean acc(base))  (only where the gap
                                                          is >= 0.5 points)
and per quantizer the mean gain and the pooled share of the gap closed,
sum(gain) / sum(FP - base), the headline figure (also per seed, mean +- sd;
n/a when a seed's pooled gap is under 0.5 points).
A seed counts in a cell only when both its runs (base, SinReQ) finished.
Then per-layer quantization error mean|W - Q(W)| and R_l at the last epoch,
without and with SinReQ (mean over seeds); an error above 1 (the weights
far outside the levels' range [-1, 1]: a diverged run) is marked (!) and
named in a note under the table.

Every run is done (result.json), failed (the grid recorded a non-zero exit:
<run>.failed beside it from jobs/cifar10net_grid.sh, or the Slurm log's
"sinreq train exited N" from jobs/train.sbatch), running (its directory
exists, nothing says it ended; the age of its train.log is given: a run
killed without a trace looks the same) or missing (never started). The
report counts the done runs and names every other with its state; a cell
without a finished pair says why: failed, running or missing.

With --verify DATA.h5, every model behind the table is evaluated again
(`sinreq eval` on each finished run's model.h5, full precision included)
and its top-1 compared with the final test accuracy its result.json
recorded: the check that the table stands on the files the grid wrote. A
model that is missing, unreadable or gives another accuracy is named and
the report exits 1. `sinreq` is $SINREQ, else the one beside this script,
else the one on PATH.

With --md, the figure too (matplotlib; skipped with a note when it is not
installed): per network, test top-1 against bits for base and SinReQ per
quantizer (error bars: sd over seeds) and full precision as a horizontal
line, written beside OUT.md as OUT.png and embedded in it.
"""
import argparse
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


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


RUN_RE = r"(dorefa|wrpn)(\d+)-lambda([0-9.e+-]+?)(?:-seed(\d+))?"


def run_state(grid, name):
    """(state, detail) of the run GRID/NAME: done, failed, running or
    missing (module docstring)."""
    run = os.path.join(grid, name)
    if load(run) is not None:
        return "done", ""
    marker = os.path.join(grid, name + ".failed")
    if os.path.isfile(marker):
        with open(marker) as f:
            return "failed", "exit %s, see %s/train.log" % (
                f.read().strip() or "?", run)
    # jobs/paper_grid.sh: logs in GRID/slurm/<net>-<run>-<job>.out
    logs = [p for p in glob.glob(os.path.join(grid, "slurm", "*-%s-*.out" % name))
            if re.fullmatch(r".*-%s-\d+\.out" % re.escape(name),
                            os.path.basename(p))]
    if logs:
        with open(max(logs, key=os.path.getmtime), errors="replace") as f:
            text = f.read()
        ends = re.findall(r"sinreq train exited (\d+)", text)
        if ends and (ends[-1] not in ("0", "3") or
                     "not requeueing" in text.split("exited " + ends[-1])[-1]):
            return "failed", "exit %s, see %s" % (
                ends[-1], max(logs, key=os.path.getmtime))
    log = os.path.join(run, "train.log")
    if os.path.isfile(log):
        age = time.time() - os.path.getmtime(log)
        return "running", "train.log last written %s ago" % (
            "%.0f s" % age if age < 120 else "%.0f min" % (age / 60)
            if age < 7200 else "%.1f h" % (age / 3600))
    return "missing", "never started"


def grid_runs(grid):
    """The names of the runs a grid holds or was meant to hold: run
    directories, failure markers and Slurm job records, and for each cell
    and seed both its runs (base and SinReQ)."""
    names = set()
    for d in glob.glob(os.path.join(grid, "*-lambda*")):
        b = os.path.basename(d)
        names.add(b[:-len(".failed")] if b.endswith(".failed") else b)
    net = os.path.basename(os.path.normpath(grid))
    for j in glob.glob(os.path.join(grid, "slurm", "*.job")):
        b = os.path.basename(j)[:-4]
        if b.startswith(net + "-"):
            names.add(b[len(net) + 1:])
    names = {n for n in names if re.fullmatch(RUN_RE, n)}
    # a cell's partner that never started is still one of the grid's runs
    lams = {re.fullmatch(RUN_RE, n)[3] for n in names}
    full = set(names)
    for n in names:
        m = re.fullmatch(RUN_RE, n)
        for lam in lams:
            full.add("%s%s-lambda%s%s" % (m[1], m[2], lam,
                                          "-seed" + m[4] if m[4] else ""))
    return sorted(full)


def state_lines(grid, states):
    """The run-state summary: done counted, every other run named."""
    out = ["Runs: %d done of %d" % (sum(1 for s, _ in states.values()
                                       if s == "done"), len(states))]
    for want in ("failed", "running", "missing"):
        for name, (s, detail) in sorted(states.items()):
            if s == want:
                out.append("- %s: %s (%s)" % (name, s, detail))
    return out + [""]


def mean_sd(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def fmt(xs, spec="%.2f", sign=False):
    if not xs:
        return "n/a"
    m, sd = mean_sd(xs)
    s = (("%+" + spec[1:]) if sign else spec) % m
    return s if sd is None else s + " +- " + spec % sd


class ReportError(Exception):
    pass


def grid_report(grid):
    """The report of one network's grid directory: (lines, contributions,
    compact) where contributions are (quant, seed, gain, FP - base) per
    finished cell and seed, and compact maps (quant, bits) to the mean base
    and SinReQ accuracies."""
    fp = load(os.path.join(grid, "fp"))
    if fp is None:
        s, detail = run_state(grid, "fp")
        raise ReportError("%s/fp/result.json missing: the full-precision "
                          "run did not finish (fp: %s, %s)" % (grid, s, detail))
    cells = {}  # (quant, bits) -> {seed: {lambda: run or None}}
    states = {}  # run name -> (state, detail)
    for name in grid_runs(grid):
        m = re.fullmatch(RUN_RE, name)
        seed = int(m[4]) if m[4] else 0
        states[name] = run_state(grid, name)
        cells.setdefault((m[1], int(m[2])), {}).setdefault(seed, {})[
            float(m[3])] = load(os.path.join(grid, name))
    names = {}  # (quant, bits) -> its run names
    for name in states:
        m = re.fullmatch(RUN_RE, name)
        names.setdefault((m[1], int(m[2])), []).append(name)

    def unfinished(q, bits, reg):
        """The state of a cell's base (reg false) or SinReQ runs when it has
        no finished pair: failed beats running beats missing (a run that
        never started fails nothing), done when all of them finished."""
        got = {states[n][0] for n in names[(q, bits)]
               if (float(re.fullmatch(RUN_RE, n)[3]) > 0) == reg}
        for s in ("failed", "running", "missing", "done"):
            if s in got:
                return s
        return "missing"
    if not cells:
        raise ReportError("no <quantizer><bits>-lambda<L> runs in %s" % grid)

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
    out.extend(state_lines(grid, states))
    out.append("| quantizer | bits | seeds | base | + SinReQ | gain (points) "
               "| FP - base | gap closed |")
    out.append("|---|---|---|---|---|---|---|---|")
    contrib, compact, series = [], {}, {}
    for (q, bits) in sorted(cells):
        p = pairs(q, bits)
        if not p:
            out.append("| %s | %d | 0 | %s | %s | | | |"
                       % (q, bits, unfinished(q, bits, False),
                          unfinished(q, bits, True)))
            continue
        base = [b["acc"] for _, b, _ in p]
        reg = [r["acc"] for _, _, r in p]
        gain = [r - b for b, r in zip(base, reg)]
        gap = fp["acc"] - mean_sd(base)[0]
        mg = mean_sd(gain)[0]
        closed = ("%.1f%%" % (100 * mg / gap) if gap >= GAP_MIN
                  else "n/a (gap < %g)" % GAP_MIN)
        out.append("| %s | %d | %d | %s | %s | %s | %.2f | %s |"
                   % (q, bits, len(p), fmt(base), fmt(reg),
                      fmt(gain, sign=True), gap, closed))
        compact[(q, bits)] = (mean_sd(base)[0], mean_sd(reg)[0])
        series[(q, bits)] = (base, reg)
        for seed, b, r in p:
            contrib.append((q, seed, r["acc"] - b["acc"], fp["acc"] - b["acc"]))
    out.append("")
    out.extend(pooled_lines(contrib))
    out.append("")
    out.append("Per-layer quantization error mean|W - Q(W)| and R_l at the "
               "last epoch, mean over seeds (without -> with SinReQ):\n")
    absurd = []
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
            qe = [qerr_cell(x) for x in v[:2]]
            if any(x > QERR_ABSURD for x in v[:2]):
                absurd.append("%s %d-bit %s" % (q, bits, name))
            out.append("| %s | %d | %s | %s | %s | %.3g | %.3g |"
                       % (q, bits, name, qe[0], qe[1], v[2], v[3]))
    if absurd:
        out.append("")
        out.append("(!) quantization error above %g, more than the whole "
                   "range [-1, 1] of the levels: the weights of %s left the "
                   "quantizer's range (a diverged run; see its train.log)"
                   % (QERR_ABSURD, ", ".join(absurd)))
    return out, contrib, compact, fp, series


# gap closed is a ratio over the gap to FP; below this many points that gap
# is within the seed spread and the ratio means nothing (per cell, and per
# seed for the pooled share)
GAP_MIN = 0.5

# mean|W - Q(W)| beyond this means the weights are far outside the levels'
# range [-1, 1] (healthy runs: below 0.1)
QERR_ABSURD = 1.0


def qerr_cell(v):
    return "%.4g%s" % (v, " (!)" if v > QERR_ABSURD else "")


def pooled_lines(contrib):
    """Per quantizer: mean gain per cell and the pooled share of the gap
    closed, sum(gain) / sum(FP - base), each per seed, then mean +- sd."""
    pooled = {}  # quant -> {seed: [sum gain, sum gap, cells]}
    for q, seed, gain, gap in contrib:
        s = pooled.setdefault(q, {}).setdefault(seed, [0.0, 0.0, 0])
        s[0] += gain
        s[1] += gap
        s[2] += 1
    out = []
    for q, per_seed in sorted(pooled.items()):
        g = [v[0] / v[2] for v in per_seed.values()]
        # every seed's pooled gap must count: a share over some seeds only
        # would read as the whole grid's
        small = sorted(s for s, v in per_seed.items() if v[1] < GAP_MIN)
        if small:
            share = "n/a (pooled gap < %g points%s)" % (
                GAP_MIN, "" if small == [0] else  # 0: a one-seed grid
                " in seed%s %s" % ("s" if len(small) > 1 else "",
                                   ", ".join(map(str, small))))
        else:
            share = fmt([100 * v[0] / v[1] for v in per_seed.values()],
                        "%.1f") + "%"
        out.append("%s: mean gain %s points per cell; pooled gap closed "
                   "sum(gain)/sum(FP-base) = %s" % (q, fmt(g, sign=True), share))
    return out


def finished_runs(grid):
    """The finished runs behind the report of grid: each network's fp and
    its quantized runs with a result.json."""
    runs = []
    for _, d in network_grids(grid):
        for name in ["fp"] + sorted(grid_runs(d)):
            run = os.path.join(d, name)
            if os.path.isfile(os.path.join(run, "result.json")):
                runs.append(run)
    return runs


def sinreq_binary():
    env = os.environ.get("SINREQ")
    if env:
        return env
    beside = os.path.join(os.path.dirname(os.path.realpath(__file__)), "sinreq")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("sinreq")


def verify_lines(grid, data):
    """Re-evaluates each finished run's model.h5 on data; (lines, ok)."""
    sinreq = sinreq_binary()
    if not sinreq:
        raise ReportError("--verify: no sinreq binary (set SINREQ, or put "
                          "sinreq on PATH)")
    if not os.path.isfile(data):
        raise ReportError("--verify: no data file %s" % data)
    runs = finished_runs(grid)
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        out_json = os.path.join(tmp, "eval.json")
        for run in runs:
            want = (load(run) or {}).get("acc")
            model = os.path.join(run, "model.h5")
            if not os.path.isfile(model):
                bad.append("%s: no model.h5" % run)
                continue
            p = subprocess.run([sinreq, "eval", "--model", model, "--data",
                                data, "--json", out_json],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                err = p.stderr.strip().splitlines()
                bad.append("%s: sinreq eval exited %d: %s" % (
                    run, p.returncode, err[-1] if err else ""))
                continue
            with open(out_json) as f:
                got = 100 * json.load(f)["top1"]
            # both files print top-1 as a fraction to 4 decimals: the same
            # model on the same data agrees to within half that last place
            if want is None or abs(got - want) > 0.005:
                bad.append("%s: eval gives %.2f%%, result.json says %s"
                           % (run, got, "nothing" if want is None
                              else "%.2f%%" % want))
    out = ["", "Re-evaluated with sinreq eval on %s: %d of %d models give "
           "the top-1 their result.json recorded" % (data, len(runs) - len(bad),
                                                      len(runs))]
    out.extend("- " + b for b in bad)
    return out, not bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grid")
    ap.add_argument("--md", help="also write the report to this file, "
                    "with the figure beside it (OUT.png)")
    ap.add_argument("--no-figure", action="store_true",
                    help="with --md: no figure")
    ap.add_argument("--verify", metavar="DATA.h5",
                    help="evaluate every finished run's model.h5 again on "
                    "this dataset and compare with its result.json; exit 1 "
                    "if any differs")
    a = ap.parse_args()

    verified = True
    try:
        out, figs = report(a.grid)
        if a.verify:
            lines, verified = verify_lines(a.grid, a.verify)
            out.extend(lines)
    except ReportError as e:
        sys.exit("report: %s" % e)
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.md:
        head = ""
        if not a.no_figure:
            png = os.path.splitext(a.md)[0] + ".png"
            note = figure(figs, png)
            head = (note + "\n\n" if note else
                    "![test top-1 against bits per network](%s)\n\n"
                    % os.path.basename(png))
        try:
            with open(a.md, "w") as f:
                f.write(head + text)
        except OSError as e:
            sys.exit("report: cannot write %s: %s" % (a.md, e.strerror))
    if not verified:
        sys.exit(1)


def figure(figs, png):
    """Per network, test top-1 against bits: base and SinReQ per quantizer
    with sd over seeds as error bars, full precision as a horizontal line.
    Writes PNG; returns None, or a note saying why there is no figure."""
    figs = [f for f in figs if f[2]]
    if not figs:
        return "(no figure: no finished cell)"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(no figure: matplotlib is not installed)"
    fig, axes = plt.subplots(1, len(figs), figsize=(5.5 * len(figs), 4.2),
                             squeeze=False)
    for ax, (net, fpacc, series) in zip(axes[0], figs):
        ax.axhline(fpacc, color="black", lw=1, ls=":",
                   label="full precision %.2f" % fpacc)
        for i, q in enumerate(sorted({q for q, _ in series})):
            bits = sorted(b for qq, b in series if qq == q)
            for j, (what, ls) in enumerate((("base", "--"), ("+ SinReQ", "-"))):
                m = [mean_sd(series[(q, b)][j]) for b in bits]
                # nudge the two curves apart so the error bars stay visible
                x = [b + (j - 0.5) * 0.06 for b in bits]
                ax.errorbar(x, [v[0] for v in m],
                            yerr=[v[1] or 0 for v in m], color="C%d" % i,
                            ls=ls, marker="o", capsize=3,
                            label="%s %s" % (q, what))
        ax.set_xticks(sorted({b for _, b in series}))
        ax.set_xlabel("bits")
        ax.set_ylabel("test top-1 (%)")
        ax.set_title(net)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        fig.savefig(png, dpi=100)
    except OSError as e:
        return "(no figure: cannot write %s: %s)" % (png, e.strerror)
    return None


def network_grids(grid):
    """[(network, its grid directory)]: grid alone when it holds fp/ (or no
    network directories), else one per network (jobs/paper_grid.sh)."""
    if not os.path.isdir(grid):
        raise ReportError("%s is not a directory: no full-precision run "
                          "there" % grid)
    nets = sorted(n for n in os.listdir(grid) if os.path.isdir(os.path.join(grid, n))
                  and (os.path.isdir(os.path.join(grid, n, "fp")) or
                       os.path.isdir(os.path.join(grid, n, "slurm")) or
                       glob.glob(os.path.join(grid, n, "*-lambda*"))))
    if os.path.isdir(os.path.join(grid, "fp")) or not nets:
        return [(os.path.basename(os.path.normpath(grid)), grid)]
    return [(net, os.path.join(grid, net)) for net in nets]


def report(grid):
    grids = network_grids(grid)
    if grids[0][1] == grid:
        r = grid_report(grid)
        return r[0], [(grids[0][0], r[3]["acc"], r[4])]
    # one grid per network (jobs/paper_grid.sh); a network whose
    # full-precision run has not finished is reported as such
    out, contrib, rows, figs = [], [], [], []
    for net, d in grids:
        out.append("## %s\n" % net)
        try:
            lines, c, compact, fp, series = grid_report(d)
        except ReportError as e:
            out.append("no table: %s\n" % e)
            continue
        out.extend(lines)
        out.append("")
        contrib.extend(c)
        figs.append((net, fp["acc"], series))
        for (q, bits), (b, r) in sorted(compact.items()):
            rows.append((net, fp["acc"], q, bits, b, r))
    out.append("## All networks\n")
    if not rows:
        return out + ["no finished cells"], figs
    out.append("Test top-1, base -> + SinReQ (mean over seeds):\n")
    bits_all = sorted({r[3] for r in rows})
    out.append("| network | FP | quantizer | " +
               " | ".join("%d bits" % b for b in bits_all) + " |")
    out.append("|---|---|---|" + "---|" * len(bits_all))
    for net, fpacc, q in sorted({(r[0], r[1], r[2]) for r in rows}):
        by = {r[3]: r for r in rows if r[0] == net and r[2] == q}
        out.append("| %s | %.2f | %s | " % (net, fpacc, q) + " | ".join(
            "%.2f -> %.2f" % (by[b][4], by[b][5]) if b in by else "-"
            for b in bits_all) + " |")
    out.append("")
    out.append("Over networks and bit widths (docs/method.md; paper: "
               "DoReFa +2.8 points, 32.4%; WRPN +2.1, 27.5%):\n")
    out.extend(pooled_lines(contrib))
    return out, figs


if __name__ == "__main__":
    main()
