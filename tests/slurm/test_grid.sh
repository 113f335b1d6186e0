# jobs/paper_grid.sh on the one-node test cluster, tiny synthetic data:
# - bad input stops before anything is submitted;
# - the grid of two networks (cifar10net, resnet20) x {DoReFa, WRPN} x 4
#   bits x {without, with SinReQ}: 2 full-precision jobs, 8 fine-tuning jobs
#   that start only after their network's full-precision job ended and
#   start from its model, one report job with the per-network tables and
#   the pooled headline, accuracies as in the runs' result.json;
# - re-running submits nothing; a grid whose jobs are still queued is not
#   submitted twice;
# - a full-precision run that fails cancels its fine-tuning jobs (not left
#   pending forever) and the report still comes, saying what is missing.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
G="$ROOT/jobs/paper_grid.sh"
# (a 1-epoch full-precision model of 256 synthetic images is at chance:
# DoReFa fine-tuned from it diverges, which the divergence guards would
# stop; the grid's plumbing is tested here, so they are off)
export SINREQ FP_EPOCHS=1 FT_EPOCHS=1 BATCH=64
export TRAIN_ARGS="--threads 1 --backend $BACKEND --diverge-factor 0 --max-abs-weight 0"

# --- bad input: a clear message, exit 1, nothing submitted ------------------
expect_rc 1 "unknown network 'lenet'" bash "$G" g --cifar10 data.h5 --nets cifar10net,lenet
expect_rc 1 "svhnnet needs --svhn" bash "$G" g --cifar10 data.h5 --nets svhnnet
expect_rc 1 "'9' is not a bit width" bash "$G" g --cifar10 data.h5 --bits 3,9
expect_rc 1 "unknown quantizer 'lsq'" bash "$G" g --cifar10 data.h5 --quantizers lsq
expect_rc 1 "cannot read 'missing.h5'" bash "$G" g --cifar10 missing.h5
expect_rc 1 "no dataset given" bash "$G" g
[ -z "$(squeue -h -o %A)" ] && ok "bad input: no job submitted" || fail "jobs submitted: $(squeue)"
[ ! -e g ] && ok "bad input: no directory made" || fail "g/ was created"

# --- dry run --------------------------------------------------------------
bash "$G" g --cifar10 data.h5 --nets cifar10net,resnet20 --bits 4 --dry-run > dry.txt 2> dry.err \
    || fail "dry run rc $?: $(cat dry.err)"
n=$(grep -c '^sbatch ' dry.txt)
[ "$n" = 11 ] && ok "dry run: 11 sbatch commands (2 fp, 8 fine-tuning, report)" \
    || fail "dry run printed $n sbatch commands: $(cat dry.txt)"
[ "$(grep -c 'dependency=afterok:DRY6 ' dry.txt)" = 4 ] && ok "dry run: resnet20's cells depend on its fp job" \
    || fail "dry run dependencies: $(grep -o 'dependency=[^ ]*' dry.txt | tr '\n' ' ')"
[ ! -e g ] && [ -z "$(squeue -h -o %A)" ] && ok "dry run: nothing made or submitted" || fail "dry run submitted or made g/"
# progress lines in the Slurm logs unless --quiet
grep -q -- "--quiet" dry.txt && fail "dry run: --quiet without being asked"
bash "$G" g --cifar10 data.h5 --nets cifar10net --bits 4 --quiet --dry-run > dryq.txt 2>&1 \
    || fail "dry run --quiet rc $?"
[ "$(grep -c 'train.sbatch .* --quiet' dryq.txt)" = 5 ] && ok "--quiet: every run quiet" \
    || fail "--quiet: $(grep -c -- '--quiet' dryq.txt) of 5 runs quiet"

# --- the grid ----------------------------------------------------------------
SECONDS=0
bash "$G" g --cifar10 data.h5 --nets cifar10net,resnet20 --bits 4 > submit.txt 2>&1 \
    || { fail "paper_grid rc $?: $(cat submit.txt)"; finish; }
grep -q "11 job(s) submitted\|10 job(s) submitted" submit.txt && ok "$(tail -1 submit.txt)" \
    || fail "submission: $(cat submit.txt)"
rjob=$(cat g/report.job)
wait_job "$rjob" 400 COMPLETED FAILED CANCELLED TIMEOUT \
    || { fail "report job $rjob did not end: $(squeue)"; scancel -u "$(id -un)"; finish; }
ok "report job $rjob ended after $SECONDS s"
n=$(ls g/*/fp/result.json g/*/*-lambda*/result.json 2> /dev/null | wc -l)
[ "$n" = 10 ] && ok "10 runs finished" || fail "$n of 10 runs finished: $(tail -3 g/*/slurm/*.out)"
for net in cifar10net resnet20; do
    fp=$(cat "g/$net/slurm/$net-fp.job")
    fp_end=$(job_field "$fp" EndTime)
    for cell in dorefa4-lambda0 dorefa4-lambda1 wrpn4-lambda0 wrpn4-lambda1; do
        j=$(cat "g/$net/slurm/$net-$cell.job")
        st=$(job_field "$j" StartTime)
        # ISO times sort as strings
        [[ ! "$st" < "$fp_end" ]] || fail "$net $cell started $st, before its fp job ended $fp_end"
        grep -q "init: \"$PWD/g/$net/fp/model.h5\"" "g/$net/$cell/config.yaml" \
            || fail "$net $cell: init is not its fp model: $(grep init: g/$net/$cell/config.yaml)"
    done
    ok "$net: 4 fine-tuning jobs started after fp job $fp ended ($fp_end), from its model"
done
grep -q "net: \"resnet20\"" g/resnet20/wrpn4-lambda1/config.yaml && grep -q "sinreq_lambda: 1" g/resnet20/wrpn4-lambda1/config.yaml \
    && ok "cell config: resnet20, lambda 1" || fail "cell config: $(cat g/resnet20/wrpn4-lambda1/config.yaml | head -20)"
for w in "## cifar10net" "## resnet20" "## All networks" "^dorefa: mean gain" "^wrpn: mean gain"; do
    grep -q "$w" g/report.md && ok "report.md: $w" || fail "report.md lacks '$w': $(cat g/report.md)"
done
# the compact table's numbers are the runs' own accuracies
"$PY" - > cell.txt 2>&1 <<'PY' && ok "$(cat cell.txt)" || fail "$(cat cell.txt)"
import json
acc = lambda d: 100 * json.load(open("g/resnet20/%s/result.json" % d))["final_test_acc"]
want = "%.2f -> %.2f" % (acc("wrpn4-lambda0"), acc("wrpn4-lambda1"))
row = [l for l in open("g/report.md") if l.startswith("| resnet20 |") and "| wrpn |" in l][0]
print("resnet20 wrpn 4 bits:", want)
assert row.rstrip().endswith("| %s |" % want), row
PY

# --- re-running submits nothing ----------------------------------------------
bash "$G" g --cifar10 data.h5 --nets cifar10net,resnet20 --bits 4 > again.txt 2>&1 \
    || fail "rerun rc $?: $(tail -3 again.txt)"
grep -q "every run has finished" again.txt && grep -q "## All networks" again.txt \
    && ok "rerun: nothing submitted, the table printed" || fail "rerun: $(head -5 again.txt)"

# --- queued jobs are not submitted twice ----------------------------------------
SBATCH_ARGS=--hold bash "$G" h --cifar10 data.h5 --nets cifar10net --bits 4 --quantizers wrpn > h1.txt 2>&1 \
    || fail "held grid rc $?: $(cat h1.txt)"
SBATCH_ARGS=--hold bash "$G" h --cifar10 data.h5 --nets cifar10net --bits 4 --quantizers wrpn > h2.txt 2>&1 \
    || fail "held grid again rc $?: $(cat h2.txt)"
[ "$(grep -c 'not submitted again' h2.txt)" = 3 ] && grep -q "0 job(s) submitted, 3 still queued" h2.txt \
    && ok "second submission reuses the 3 queued jobs" || fail "second submission: $(cat h2.txt)"
[ "$(squeue -h -o %j | grep -c '^sr-cifar10net-')" = 3 ] && ok "3 grid jobs in the queue, not 6" \
    || fail "queue: $(squeue -h -o '%A %j %T')"
scancel $(squeue -h -o %A) 2> /dev/null

# --- a failed full-precision run ------------------------------------------------
echo "not an HDF5 file" > bad.h5
bash "$G" f --cifar10 bad.h5 --nets cifar10net --bits 4 --quantizers wrpn > f.txt 2>&1 \
    || fail "grid on bad data: rc $?: $(cat f.txt)"
rjob=$(cat f/report.job)
wait_job "$rjob" 180 COMPLETED FAILED CANCELLED TIMEOUT \
    || { fail "report job of the failed grid did not end: $(squeue -h -o '%A %j %T %r')"; scancel $(squeue -h -o %A); }
fp=$(cat f/cifar10net/slurm/cifar10net-fp.job)
[ "$(job_field "$fp" JobState)" = FAILED ] && ok "fp job on bad data FAILED" \
    || fail "fp job: $(job_field "$fp" JobState)"
for cell in wrpn4-lambda0 wrpn4-lambda1; do
    j=$(cat "f/cifar10net/slurm/cifar10net-$cell.job")
    s=$(job_field "$j" JobState)
    [ "$s" = CANCELLED ] && ok "$cell: $s (dependency never satisfied)" || fail "$cell: $s"
done
grep -q "no table: .*full-precision run did not finish" f/report.md \
    && ok "report says the fp run did not finish" || fail "f/report.md: $(cat f/report.md)"
grep -q "bad.h5" f/cifar10net/slurm/cifar10net-fp-*.out && ok "the fp job's log names the bad file" \
    || fail "fp log: $(tail -5 f/cifar10net/slurm/cifar10net-fp-*.out)"
finish
