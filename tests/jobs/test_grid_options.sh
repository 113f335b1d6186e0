# jobs/cifar10net_grid.sh --bits/--quantizers/--quiet and the report's run
# states: a restricted grid (WRPN, 3 and 4 bits), then a 5-bit cell whose
# SinReQ run fails (a bad flag), then that run missing and running; the
# report's figure beside report.md; the pooled gap closed; --verify
# re-evaluates the grid's models; a grid killed mid-run continues from
# the cut run's checkpoint; --from-scratch starts the quantized runs from
# random weights.
. "$(dirname "$0")/../train/lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
GRID="$ROOT/jobs/cifar10net_grid.sh"
"$MKDS" data.h5 --train 128 --test 60 || exit 2
export SINREQ FP_EPOCHS=1 FT_EPOCHS=1 THREADS=1
export TRAIN_ARGS="--diverge-factor 0 --max-abs-weight 0"
bash "$GRID" data.h5 grid --bits 3,4 --quantizers wrpn > report.txt 2> grid.err \
    || fail "grid rc $?: $(tail -3 grid.err)"
runs=$(cd grid && ls -d *-lambda* | tr '\n' ' ')
[ "$runs" = "wrpn3-lambda0 wrpn3-lambda1 wrpn4-lambda0 wrpn4-lambda1 " ] \
    && ok "--bits 3,4 --quantizers wrpn: $runs" || fail "runs: $runs"
grep -q "^epoch 1/1" grid.err && ok "progress without --quiet" \
    || fail "no progress lines without --quiet: $(head -3 grid.err)"
grep -q "^Runs: 4 done of 4$" report.txt && ok "4 runs done" || fail "$(grep -A3 Runs: report.txt)"
# --quiet: no progress; the SinReQ run of the 5-bit cell fails (bad flag)
REG_ARGS="--no-such-flag" bash "$GRID" data.h5 grid --bits 5 --quantizers wrpn \
    --quiet > report5.txt 2> grid5.err || fail "grid 5 rc $?: $(tail -3 grid5.err)"
grep -q "^epoch" grid5.err && fail "--quiet: progress lines: $(grep ^epoch grid5.err | head -2)" \
    || ok "--quiet: no progress lines"
[ "$(cat grid/wrpn5-lambda1.failed 2>/dev/null)" = 1 ] && ok "failure marker holds exit 1" \
    || fail "no wrpn5-lambda1.failed: $(ls grid)"
rep() { "$PY" "$ROOT/jobs/report.py" grid "$@" > r.txt 2> r.err || fail "report rc $?: $(cat r.err)"; }
rep
grep -q "^| wrpn | 5 | 0 | done | failed |" r.txt && grep -q "^- wrpn5-lambda1: failed (exit 1" r.txt \
    && ok "failed run and cell" || fail "failed: $(grep -e wrpn5 -e Runs r.txt)"
# never started: missing, and the cell is missing, not failed
rm -f grid/wrpn5-lambda1.failed && rm -rf grid/wrpn5-lambda1
rep
grep -q "^| wrpn | 5 | 0 | done | missing |" r.txt && grep -q "^- wrpn5-lambda1: missing (never started)" r.txt \
    && grep -q "^Runs: 5 done of 6$" r.txt && ok "missing run and cell" \
    || fail "missing: $(grep -e wrpn5 -e Runs r.txt)"
# started, not ended: running, with the age of its train.log
mkdir grid/wrpn5-lambda1 && echo "epoch 1/1" > grid/wrpn5-lambda1/train.log
rep
grep -q "^| wrpn | 5 | 0 | done | running |" r.txt \
    && grep -q "^- wrpn5-lambda1: running (train.log last written [0-9]* s ago)" r.txt \
    && ok "running run and cell" || fail "running: $(grep -e wrpn5 -e Runs r.txt)"
# a Slurm log's exit (jobs/train.sbatch) marks a run failed
mkdir -p grid/slurm && printf 'train.sbatch: sinreq train exited 2\n' > grid/slurm/grid-wrpn5-lambda1-77.out
rep
grep -q "^- wrpn5-lambda1: failed (exit 2, see grid/slurm/grid-wrpn5-lambda1-77.out)" r.txt \
    && ok "failed from the Slurm log" || fail "slurm log: $(grep -e wrpn5 r.txt)"
# the figure: a PNG beside report.md, embedded in it, one panel
rep --md grid/report.md
[ "$(head -c 8 grid/report.png | od -An -c | tr -d ' ')" = "211PNG\r\n032\n" ] \
    && ok "report.png is a PNG" || fail "report.png: $(ls grid)"
head -1 grid/report.md | grep -qF '![test top-1 against bits per network](report.png)' \
    && ok "figure embedded in report.md" || fail "report.md head: $(head -2 grid/report.md)"
"$PY" - "$ROOT/jobs" <<'PY' > fig.txt 2>&1 && ok "figure: $(cat fig.txt)" || fail "figure: $(cat fig.txt)"
import sys
sys.path.insert(0, sys.argv[1])
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
import report
out, figs = report.report("grid")
assert report.figure(figs, "again.png") is None
ax = plt.gcf().get_axes()
assert len(ax) == 1 and ax[0].get_xlabel() == "bits", ax
labels = [t.get_text() for t in ax[0].get_legend().get_texts()]
assert labels[0].startswith("full precision ") and labels[1:] == ["wrpn base", "wrpn + SinReQ"], labels
print(labels)
PY
# the pooled gap closed: a share per seed, mean +- sd; n/a naming the seed
# when one seed's summed gap is under 0.5 points (its ratio is noise, and a
# share over the other seeds alone would read as the whole grid's)
"$PY" - "$ROOT/jobs" <<'PY' > pooled.txt 2>&1 && ok "pooled gap: $(cat pooled.txt)" || fail "pooled gap: $(cat pooled.txt)"
import sys
sys.path.insert(0, sys.argv[1])
import report
# (quantizer, seed, gain, FP - base) per cell and seed
wide = [("wrpn", 1, -1.0, 10.0), ("wrpn", 1, 0.0, 10.0),
        ("wrpn", 2, 2.0, 10.0), ("wrpn", 2, 0.0, 10.0)]
line = report.pooled_lines(wide)[0]
# seed 1: -1/20 = -5%, seed 2: 2/20 = +10%; mean 2.5, sd 10.6
assert line == ("wrpn: mean gain +0.25 +- 1.06 points per cell; pooled gap "
                "closed sum(gain)/sum(FP-base) = 2.5 +- 10.6%"), line
narrow = [("dorefa", 1, -0.7, 0.36), ("dorefa", 1, -0.5, -0.2),
          ("dorefa", 2, -0.7, 0.6), ("dorefa", 2, -0.5, 0.1)]
line = report.pooled_lines(narrow)[0]
assert line.endswith("= n/a (pooled gap < 0.5 points in seed 1)"), line
print("2.5 +- 10.6%; n/a for seed 1's 0.16-point gap")
PY
# --verify: every finished run's model.h5 (fp and the 5 done runs; the
# running one has none) gives its recorded top-1 again; a recorded
# accuracy that its model does not give, and a missing model, are named
# and exit 1, with the files left as they were
rep --verify data.h5
grep -q "^Re-evaluated with sinreq eval on data.h5: 6 of 6 models give" r.txt \
    && ok "--verify: 6 of 6 models" || fail "--verify: $(tail -3 r.txt)"
cp grid/wrpn3-lambda1/result.json saved.json
"$PY" - grid/wrpn3-lambda1/result.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["final_test_acc"] += 0.01
json.dump(r, open(sys.argv[1], "w"))
PY
mv grid/wrpn4-lambda0/model.h5 grid/saved-model.h5
"$PY" "$ROOT/jobs/report.py" grid --verify data.h5 > v.txt 2> v.err
rc=$?
[ $rc = 1 ] && grep -q "4 of 6 models" v.txt \
    && grep -q "^- grid/wrpn3-lambda1: eval gives [0-9.]*%, result.json says [0-9.]*%" v.txt \
    && grep -q "^- grid/wrpn4-lambda0: no model.h5" v.txt \
    && ok "--verify names a changed accuracy and a missing model, rc 1" \
    || fail "--verify on a changed grid: rc $rc $(tail -4 v.txt) $(cat v.err)"
"$PY" "$ROOT/jobs/report.py" grid --verify no-such.h5 > /dev/null 2> v.err \
    && fail "--verify with no data file: rc 0" \
    || { grep -q "no data file no-such.h5" v.err && ok "--verify: missing data named" \
         || fail "--verify no data: $(cat v.err)"; }
mv saved.json grid/wrpn3-lambda1/result.json && mv grid/saved-model.h5 grid/wrpn4-lambda0/model.h5
rep --md grid/plain.md --no-figure
grep -q '!\[' grid/plain.md && fail "--no-figure still embeds" || ok "--no-figure"
# a grid killed mid-run (SIGKILL to the grid and the run) continues on the
# next invocation: the cut run resumes from its newest checkpoint and ends
# bit-identical to an uninterrupted one (same losses, same weights)
export FT_EPOCHS=4 TRAIN_ARGS="$TRAIN_ARGS --checkpoint-interval 1"
bash "$GRID" data.h5 ref --bits 3 --quantizers wrpn --quiet > /dev/null 2> ref.err \
    || fail "reference grid rc $?: $(tail -3 ref.err)"
mkdir -p cut && cp -r ref/fp cut/fp
SINREQ_TEST_STEP_SLEEP=1 setsid bash "$GRID" data.h5 cut --bits 3 --quantizers wrpn --quiet \
    > /dev/null 2> cut.err &
gpid=$!
for _ in $(seq 100); do
    ls cut/wrpn3-lambda0/ckpt/ckpt-e*-s000000002.h5 > /dev/null 2>&1 && break
    sleep 0.2
done
kill -KILL -- -"$gpid" 2> /dev/null; wait "$gpid" 2> /dev/null
ls cut/wrpn3-lambda0/ckpt/ > ckpts.txt 2>&1 && [ ! -f cut/wrpn3-lambda0/result.json ] \
    && ok "killed mid-run, checkpoints: $(tr '\n' ' ' < ckpts.txt)" \
    || fail "the run was not cut: $(ls cut/wrpn3-lambda0)"
bash "$GRID" data.h5 cut --bits 3 --quantizers wrpn --quiet > /dev/null 2> cut2.err \
    || fail "grid after the kill rc $?: $(tail -3 cut2.err)"
grep -q "^resuming from .*ckpt" cut/wrpn3-lambda0/train.log \
    && ok "the cut run resumed: $(grep -m1 '^resuming' cut/wrpn3-lambda0/train.log)" \
    || fail "no resume in train.log: $(head -3 cut/wrpn3-lambda0/train.log)"
for r in wrpn3-lambda0 wrpn3-lambda1; do
    cmp -s ref/$r/steps.tsv cut/$r/steps.tsv && h5diff -q ref/$r/model.h5 cut/$r/model.h5 /model \
        && ok "$r: the same losses and weights as uninterrupted" \
        || fail "$r differs from the uninterrupted run: $(diff ref/$r/steps.tsv cut/$r/steps.tsv | head -4)"
done
# --from-scratch: the quantized runs start from random weights with the
# full-precision recipe (FP_EPOCHS at FP_LR), not from fp/model.h5
FP_EPOCHS=2 FP_LR=0.02 FT_EPOCHS=1 bash "$GRID" data.h5 scratch --bits 4 --quantizers dorefa \
    --from-scratch --quiet > scratch.txt 2> scratch.err \
    || fail "--from-scratch grid rc $?: $(tail -3 scratch.err)"
for r in dorefa4-lambda0 dorefa4-lambda1; do
    c=scratch/$r/config.yaml
    grep -q '^init: ""$' "$c" && grep -q '^epochs: 2$' "$c" && grep -q '^lr: 0.02$' "$c" \
        && ! grep -q "^initialised from" scratch/$r/train.log \
        && ok "--from-scratch $r: no --init, 2 epochs at lr 0.02" \
        || fail "--from-scratch $r: $(grep -e '^init:' -e '^epochs:' -e '^lr:' "$c" | tr '\n' ' ')"
done
grep -q '^init: ".*fp/model.h5"$' grid/wrpn3-lambda0/config.yaml \
    && ok "without --from-scratch the runs start from fp/model.h5" \
    || fail "fine-tuning init: $(grep '^init:' grid/wrpn3-lambda0/config.yaml)"
grep -q "^Runs: 2 done of 2$" scratch.txt && ok "--from-scratch report" || fail "$(grep Runs: scratch.txt)"
expect_rc 1 "unknown quantizer 'int8'" bash "$GRID" data.h5 g2 --quantizers int8
expect_rc 1 "'9' is not a bit width" bash "$GRID" data.h5 g2 --bits 3,9
expect_rc 1 "unknown option '--bitz'" bash "$GRID" data.h5 g2 --bitz 3
finish
