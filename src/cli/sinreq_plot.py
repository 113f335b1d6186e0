#!/usr/bin/env python3
"""sinreq-plot: weight histograms of one layer at every stored epoch.

    sinreq-plot RUN_DIR|histograms.h5 [--layer NAME] [--out FILE.png] [--list]

Reads histograms.h5 (written by `sinreq train --hist-epochs ...`) and draws,
for the layer, one panel per stored epoch stacked top to bottom, sharing the
x axis, with solid vertical lines at the quantization levels (the raw weights
that quantize exactly onto each level) and dotted lines at the regularizer's
minima. Without --layer the first quantized layer is drawn. Exit codes:
0 done, 1 bad input.
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


def main():
    ap = argparse.ArgumentParser(prog="sinreq-plot", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="run directory or histograms.h5")
    ap.add_argument("--layer", help="layer name (default: the first quantized)")
    ap.add_argument("--out", help="PNG file (default: RUN/hist_<layer>.png)")
    ap.add_argument("--list", action="store_true", help="list epochs and layers")
    a = ap.parse_args()

    try:
        import h5py
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError as e:
        fail("%s (Debian: apt-get install python3-h5py python3-matplotlib)" % e)

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
            for v in d.attrs.get("levels", []):
                ax.axvline(v, color="tab:red", lw=0.8)
            for v in d.attrs.get("minima", []):
                ax.axvline(v, color="tab:green", lw=0.8, ls=":")
            bits = int(d.attrs["bits"])
            q = d.attrs["quantizer"]
            q = q.decode() if isinstance(q, bytes) else q
            ax.set_ylabel("epoch %s" % g[6:])
            label = "%s %s" % (q, "%d-bit" % bits if bits else "fp32")
            R, qerr = float(d.attrs["R"]), float(d.attrs["qerr"])
            # before the first step (epoch 0) nothing has been measured yet
            if R == R:
                label += "  R=%.3f" % R
            if qerr == qerr:
                label += "  |W-Q(W)|=%.4f" % qerr
            ax.text(0.99, 0.9, label, transform=ax.transAxes, ha="right",
                    va="top", fontsize=8)
        axes[-1, 0].set_xlim(lo_all, hi_all)
        axes[-1, 0].set_xlabel("weight W (red: quantization levels, green "
                               "dotted: regularizer minima)")
        fig.suptitle("%s: %s" % (os.path.basename(os.path.dirname(
            os.path.abspath(path))), layer))
        fig.tight_layout()
        fig.savefig(out, dpi=110)
        print(out)


if __name__ == "__main__":
    main()
