# sinreq-plot curves: two tiny runs (base and SinReQ) overlaid in one PNG
# of the expected size, with the four panels and their labels; sinreq-plot
# histograms of a full-precision run show no R; bad input exits 1.
. "$(dirname "$0")/lib.sh"
SRC="$(cd "$(dirname "$0")/../../src/cli" && pwd)"
small_data
for lam in 0 5; do
    $T --data data.h5 --out run$lam --epochs 2 --quantizer dorefa --bits 3 \
       --sinreq-lambda $lam --lr 0.002 --diverge-factor 0 --max-abs-weight 0 \
       || fail "train lambda $lam rc $?"
done
"$PLOT" curves run0 run5 --label base --label SinReQ -o curves.png > out.txt \
    || fail "curves rc $?: $(cat out.txt)"
grep -qx curves.png out.txt || fail "curves does not print what it wrote: $(cat out.txt)"
# PNG signature, then the IHDR's width and height (1100 x 800 at 100 dpi)
"$PY" - <<'PY' && ok "curves.png: a 1100x800 PNG" || fail "curves.png header"
import struct, sys
b = open("curves.png", "rb").read(24)
sys.exit(0 if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
         and struct.unpack(">II", b[16:24]) == (1100, 800) else 1)
PY
# the figure itself: four axes, their y labels, both runs in the legends
"$PY" - "$SRC" <<'PY' > axes.txt 2>&1 && ok "axes: $(cat axes.txt)" || fail "axes: $(cat axes.txt)"
import sys
sys.path.insert(0, sys.argv[1])
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
import sinreq_plot as sp
fig = sp.curves_figure([sp.read_metrics("run0"), sp.read_metrics("run5")],
                       ["base", "SinReQ"], plt)
ax = fig.get_axes()
assert len(ax) == 4, len(ax)
ylabels = [a.get_ylabel() for a in ax]
assert ylabels == ["loss (cross-entropy)", "top-1 accuracy (%)", "lambda",
                   "mean R_l over quantized layers"], ylabels
legend = [t.get_text() for t in ax[0].get_legend().get_texts()]
assert legend == ["base train", "base test", "SinReQ train", "SinReQ test"], legend
# lambda: 0 for the base run, 5 for the SinReQ run, two epochs each
lam = [list(l.get_ydata()) for l in ax[2].get_lines()]
assert lam == [[0, 0], [5, 5]], lam
print(len(ax), "axes,", ", ".join(ylabels))
PY
# a full-precision run's histogram panels carry no "R=" (no regularizer)
$T --data data.h5 --out fp --epochs 1 --hist-epochs 0,last || fail "fp train rc $?"
"$PY" - "$SRC" <<'PY' > fp.txt 2>&1 && ok "fp histograms without R" || fail "fp: $(cat fp.txt)"
import sys, subprocess
sys.path.insert(0, sys.argv[1])
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
import sinreq_plot as sp
sys.argv = ["sinreq-plot", "fp", "--out", "fp.png"]
sp.main()
texts = [t.get_text() for a in plt.gcf().get_axes() for t in a.texts]
assert texts and not any("R=" in t for t in texts), texts
PY
expect_rc 1 "no-such-run: not a run directory" "$PLOT" curves no-such-run -o x.png
mkdir empty
expect_rc 1 "empty/metrics.jsonl: cannot read" "$PLOT" curves empty -o x.png
expect_rc 1 "2 --label for 1 runs" "$PLOT" curves run0 --label a --label b -o x.png
finish
