#!/usr/bin/env python3
"""sinreq-plot: weight histograms of a run, or learning curves of runs.

    sinreq-plot RUN_DIR|histograms.h5 [--layer NAME] [--out FILE.png] [--list]
    sinreq-plot curves RUN_DIR [RUN_DIR...] -o OUT.png [--label NAME...]

Histograms: reads histograms.h5 (written by `sinreq train --hist-epochs
...`) and draws, for the layer, one panel per stored epoch stacked top to
bottom, sharing the x axis, with solid red vertical lines at the
quantization levels (the raw weights that quantize exactly onto each level)
and dashed green lines, drawn on top, at the regularizer's minima (for WRPN
they coincide with the levels). Without --layer the first quantized layer
is drawn.

curves: reads each run's metrics.jsonl and draws four panels: loss and
top-1 accuracy per epoch (train solid, test dashed), lambda and the mean
R_l over the quantized layers per epoch; one colour per run, named in the
legend by --label or the run directory's name.

Exit codes: 0 done, 1 bad input.
"""
import argparse
import os
import sys


def fail(msg):
    print("sinreq-plot: " + msg, file=sys.stderr)
    sys.exit(1)


def epochs_of(f):
    out = []
    for g in f:
        if g.startswith("epoch_"):
            try:
                out.append((int(g[6:]), g))
            except ValueError:
                pass
    return [g for _, g in sorted(out)]


def import_plotting():
    try:
        import h5py
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError as e:
        fail("%s (Debian: apt-get install python3-h5py python3-matplotlib)" % e)
    return h5py, plt, np


def read_metrics(run):
    """The per-epoch records of a run directory's metrics.jsonl."""
    import json
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.isdir(run):
        fail("%s: not a run directory" % run)
    try:
        with open(path) as f:
            lines = [l for l in f if l.strip()]
    except OSError as e:
        fail("%s: cannot read: %s" % (path, e.strerror))
    recs = []
    for i, l in enumerate(lines, 1):
        try:
            r = json.loads(l)
        except ValueError:
            fail("%s:%d: not a JSON object" % (path, i))
        if not isinstance(r, dict) or "epoch" not in r:
            fail("%s:%d: no \"epoch\"" % (path, i))
        recs.append(r)
    if not recs:
        fail("%s: no epochs yet" % path)
    return recs


def curves_figure(runs, labels, plt):
    """Four panels (loss, accuracy, lambda, mean R_l) per epoch, one colour
    per run; returns the figure."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (ax_loss, ax_acc), (ax_lam, ax_r) = axes
    for i, (recs, label) in enumerate(zip(runs, labels)):
        color = "C%d" % (i % 10)
        ep = [r["epoch"] for r in recs]

        def col(key):
            return [r.get(key) if r.get(key) is not None else float("nan")
                    for r in recs]
        ax_loss.plot(ep, col("train_loss"), color=color, marker=".",
                     label=label + " train")
        ax_loss.plot(ep, col("test_loss"), color=color, marker=".", ls="--",
                     label=label + " test")
        ax_acc.plot(ep, [100 * v for v in col("train_acc")], color=color,
                    marker=".", label=label + " train")
        ax_acc.plot(ep, [100 * v for v in col("test_acc")], color=color,
                    marker=".", ls="--", label=label + " test")
        ax_lam.plot(ep, col("lambda"), color=color, marker=".", label=label)
        # mean R_l over the quantized layers (a full-precision run has none)
        rmean = []
        for r in recs:
            rs = [l["R"] for l in r.get("layers", [])
                  if l.get("bits", 0) > 0 and l.get("R") is not None]
            rmean.append(sum(rs) / len(rs) if rs else float("nan"))
        ax_r.plot(ep, rmean, color=color, marker=".", label=label)
    ax_loss.set_ylabel("loss (cross-entropy)")
    ax_acc.set_ylabel("top-1 accuracy (%)")
    ax_lam.set_ylabel("lambda")
    ax_r.set_ylabel("mean R_l over quantized layers")
    for ax in axes.flat:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax_loss.set_title("loss (train solid, test dashed)")
    ax_acc.set_title("accuracy (train solid, test dashed)")
    ax_lam.set_title("regularization strength lambda")
    ax_r.set_title("regularizer R_l")
    fig.tight_layout()
    return fig


def curves_main(argv):
    ap = argparse.ArgumentParser(
        prog="sinreq-plot curves",
        description="learning curves of one or more runs, overlaid")
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR")
    ap.add_argument("-o", "--out", required=True, help="PNG file")
    ap.add_argument("--label", action="append",
                    help="legend name of each run, in order (default: the "
                         "run directory's name)")
    a = ap.parse_args(argv)
    if a.label and len(a.label) != len(a.runs):
        fail("curves: %d --label for %d runs" % (len(a.label), len(a.runs)))
    _, plt, _ = import_plotting()
    runs = [read_metrics(r) for r in a.runs]
    labels = a.label or [os.path.basename(os.path.abspath(r)) for r in a.runs]
    fig = curves_figure(runs, labels, plt)
    try:
        fig.savefig(a.out, dpi=100)
    except OSError as e:
        fail("%s: cannot write: %s" % (a.out, e.strerror))
    print(a.out)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "curves":
        return curves_main(sys.argv[2:])
    ap = argparse.ArgumentParser(prog="sinreq-plot", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="run directory or histograms.h5")
    ap.add_argument("--layer", help="layer name (default: the first quantized)")
    ap.add_argument("--out", help="PNG file (default: RUN/hist_<layer>.png)")
    ap.add_argument("--list", action="store_true", help="list epochs and layers")
    a = ap.parse_args()

    h5py, plt, np = import_plotting()

    path = a.path
    if os.path.isdir(path):
        path = os.path.join(path, "histograms.h5")
    if not os.path.exists(path):
        fail("%s: no such file" % path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail("%s: cannot open as HDF5: %s" % (path, e))
    with f:
        if f.attrs.get("format") not in ("sinreq-histograms", b"sinreq-histograms"):
            fail("%s: not a sinreq histogram file (format attribute)" % path)
        groups = epochs_of(f)
        if not groups:
            fail("%s: no /epoch_<E> groups" % path)
        layers = list(f[groups[0]].keys())
        if a.list:
            for g in groups:
                print(g, " ".join("%s(%db)" % (k, f[g][k].attrs["bits"])
                                  for k in f[g]))
            return
        layer = a.layer
        if layer is None:
            q = [k for k in layers if f[groups[0]][k].attrs["bits"] > 0]
            layer = (q or layers)[0]
        if layer not in layers:
            fail("%s: no layer '%s' (layers: %s)" % (path, layer, ", ".join(layers)))
        out = a.out or os.path.join(os.path.dirname(os.path.abspath(path)),
                                    "hist_%s.png" % layer)

        n = len(groups)
        fig, axes = plt.subplots(n, 1, sharex=True, figsize=(8, 1.8 * n + 0.8),
                                 squeeze=False)
        lo_all = min(float(f[g][layer].attrs["lo"]) for g in groups)
        hi_all = max(float(f[g][layer].attrs["hi"]) for g in groups)
        for ax, g in zip(axes[:, 0], groups):
            d = f[g][layer]
            counts = d[()]
            lo, hi = float(d.attrs["lo"]), float(d.attrs["hi"])
            edges = np.linspace(lo, hi, len(counts) + 1)
            ax.stairs(counts, edges, fill=True, color="tab:blue", alpha=0.8)
            # the minima on top of the levels, dashed and thicker: for WRPN
            # they are the same weights, and both must stay visible
            for v in d.attrs.get("levels", []):
                ax.axvline(v, color="tab:red", lw=1.0, zorder=3)
            for v in d.attrs.get("minima", []):
                ax.axvline(v, color="tab:green", lw=1.6, ls=(0, (3, 3)),
                           zorder=4)
            bits = int(d.attrs["bits"])
            q = d.attrs["quantizer"]
            q = q.decode() if isinstance(q, bytes) else q
            ax.set_ylabel("epoch %s" % g[6:])
            label = "%s %s" % (q, "%d-bit" % bits if bits else "fp32")
            R, qerr = float(d.attrs["R"]), float(d.attrs["qerr"])
            # before the first step (epoch 0) nothing has been measured yet;
            # a full-precision layer has no regularizer term
            if R == R and bits > 0:
                label += "  R=%.3f" % R
            if qerr == qerr and bits > 0:
                label += "  |W-Q(W)|=%.4f" % qerr
            ax.text(0.99, 0.9, label, transform=ax.transAxes, ha="right",
                    va="top", fontsize=8)
        axes[-1, 0].set_xlim(lo_all, hi_all)
        axes[-1, 0].set_xlabel("weight W (red: quantization levels, green "
                               "dashed: regularizer minima)")
        fig.suptitle("%s: %s" % (os.path.basename(os.path.dirname(
            os.path.abspath(path))), layer))
        fig.tight_layout()
        fig.savefig(out, dpi=110)
        print(out)


if __name__ == "__main__":
    main()
