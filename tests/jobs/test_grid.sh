# jobs/cifar10net_grid.sh + jobs/report.py end to end on tiny synthetic
# data: full precision, then 2 quantizers x 3 bit widths x {lambda 0, 1} x
# 2 seeds (24 fine-tuning runs), the SinReQ runs with extra flags
# (REG_ARGS), and the report: one row per cell with mean +- sd over the 2
# seeds, the pooled gap closed per quantizer, the per-layer table. A rerun
# skips finished runs; a missing full-precision run is a clear error.
. "$(dirname "$0")/../train/lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
export SINREQ FP_EPOCHS=2 FT_EPOCHS=1 SEEDS="1 2" THREADS=1
export REG_ARGS="--lambda-schedule delayed-tanh --sinreq-norm global"
# the full-precision model of 256 synthetic images stays at chance: DoReFa
# fine-tuned from it diverges (loss ~7e3, then ~7e5; weights above 100),
# which the divergence guards stop; the grid's plumbing is tested here
export TRAIN_ARGS="--diverge-factor 0 --max-abs-weight 0"
bash "$ROOT/jobs/cifar10net_grid.sh" data.h5 grid > report.txt 2> grid.err \
    || fail "grid rc $?: $(tail -3 grid.err)"
n=$(ls grid/*-lambda*-seed*/result.json 2>/dev/null | wc -l)
[ "$n" = 24 ] && ok "24 fine-tuning runs finished" || fail "$n of 24 runs finished: $(tail -3 grid.err)"
# the seeds were really used: different shuffles give different losses
cmp -s <(cut -f3 grid/wrpn4-lambda0-seed1/steps.tsv) <(cut -f3 grid/wrpn4-lambda0-seed2/steps.tsv) \
    && fail "seeds 1 and 2 gave identical losses" || ok "seeds 1 and 2 differ"
grep -q "seed: 2" grid/wrpn4-lambda1-seed2/config.yaml && ok "seed 2 in its resolved config" \
    || fail "config.yaml of seed 2: $(grep seed grid/wrpn4-lambda1-seed2/config.yaml)"
# REG_ARGS reach the SinReQ runs only
grep -q 'lambda_schedule: "delayed-tanh"' grid/dorefa3-lambda1-seed1/config.yaml \
    && ok "REG_ARGS in the SinReQ run" || fail "REG_ARGS missing in the SinReQ run"
grep -q 'lambda_schedule: "delayed-tanh"' grid/dorefa3-lambda0-seed1/config.yaml \
    && fail "REG_ARGS leaked into the baseline run" || ok "baseline without REG_ARGS"
rows=$(grep -cE '^\| (dorefa|wrpn) \| [345] \| 2 \| [0-9.]+ \+- [0-9.]+ \| [0-9.]+ \+- [0-9.]+ \| [+-][0-9.]+ \+- [0-9.]+ \|' report.txt)
[ "$rows" = 6 ] && ok "6 cells with mean +- sd over 2 seeds" || fail "report rows: $rows; $(cat report.txt)"
for q in dorefa wrpn; do
    grep -q "^$q: mean gain .* pooled gap closed" report.txt && ok "$q pooled line" \
        || fail "no pooled line for $q"
done
[ "$(grep -c '| conv1 |' report.txt)" = 6 ] && ok "per-layer rows" || fail "per-layer table: $(tail -5 report.txt)"
# the accuracies in the table are the runs' own: recompute one cell
"$PY" - <<'PY' > cell.txt 2>&1 && ok "$(cat cell.txt)" || fail "$(cat cell.txt)"
import json, re, statistics, sys
acc = lambda d: 100 * json.load(open("grid/%s/result.json" % d))["final_test_acc"]
base = [acc("wrpn5-lambda0-seed%d" % s) for s in (1, 2)]
want = "%.2f +- %.2f" % (statistics.mean(base), statistics.stdev(base))
row = [l for l in open("report.txt") if l.startswith("| wrpn | 5 |")][0]
print("wrpn 5-bit base:", want)
sys.exit(0 if row.split("|")[4].strip() == want else 1)
PY
# an absurd quantization error (a diverged run's weights) is flagged: one
# run's conv1 qerr set to 15 in a copy of the grid
grep -q "(!)" report.txt && fail "a healthy grid has a flagged qerr: $(grep '(!)' report.txt)"
cp -r grid bad
"$PY" - <<'PY' || fail "could not edit the copy"
import json
p = "bad/dorefa4-lambda0-seed1/metrics.jsonl"
lines = open(p).read().splitlines()
last = json.loads(lines[-1])
[l for l in last["layers"] if l["name"] == "conv1"][0]["qerr"] = 15.0
lines[-1] = json.dumps(last)
open(p, "w").write("\n".join(lines) + "\n")
PY
"$PY" "$ROOT/jobs/report.py" bad > bad.txt 2>&1 || fail "report of the copy rc $?"
grep -qE '^\| dorefa \| 4 \| conv1 \| [0-9.]+ \(!\) \|' bad.txt \
    && grep -q "^(!) quantization error above 1.*dorefa 4-bit conv1" bad.txt \
    && ok "qerr 15 flagged: $(grep '^| dorefa | 4 | conv1' bad.txt)" \
    || fail "qerr 15 not flagged: $(grep -A3 'dorefa | 4 | conv1' bad.txt)"
[ "$(grep -c '(!)' bad.txt)" = 2 ] || fail "other cells flagged: $(grep '(!)' bad.txt)"
# a rerun skips every finished run
start=$(date +%s)
bash "$ROOT/jobs/cifar10net_grid.sh" data.h5 grid > report2.txt 2>&1 || fail "rerun rc $?"
cmp -s report.txt report2.txt && ok "rerun: same report, nothing retrained ($(( $(date +%s) - start )) s)" \
    || fail "rerun changed the report"
expect_rc 1 "full-precision run" "$PY" "$ROOT/jobs/report.py" data.h5.missing
# `sinreq report` runs the same script (installed beside the binary)
"$SINREQ" report grid > report3.txt 2> report3.err && cmp -s report.txt report3.txt \
    && ok "sinreq report: the same table" || fail "sinreq report: $(head -3 report3.err report3.txt)"
expect_rc 1 "full-precision run" "$SINREQ" report data.h5.missing
finish
