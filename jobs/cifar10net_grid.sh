#!/usr/bin/env bash
# The paper's grid for one small network on one node, run one after another:
# full precision, then {DoReFa, WRPN} x {3, 4, 5} bits x {without, with
# SinReQ}, each fine-tuned from the full-precision model (the authors'
# regime), then the table (jobs/report.py).
#   jobs/cifar10net_grid.sh DATA.h5 OUT_DIR [--bits LIST] [--quantizers LIST]
#                           [--from-scratch] [--quiet]
# --bits [3,4,5] and --quantizers [dorefa,wrpn] (comma lists) restrict the
# grid, as in jobs/paper_grid.sh; --quiet passes --quiet to every run (no
# progress lines; train.log is written either way). --from-scratch trains
# every quantized run from random weights with the full-precision recipe
# (FP_EPOCHS at FP_LR) instead of fine-tuning it from OUT_DIR/fp: the
# regularizer is then on from the first step of training.
# Settings through the environment (defaults in brackets): FP_EPOCHS [30],
# FP_LR [0.05], FT_EPOCHS [5], FT_LR [0.001], LAMBDA [1], SEED [1] (full
# precision and the fine-tuning runs), SEEDS [$SEED] (fine-tuning seeds: every cell runs
# once per seed, in <quantizer><bits>-lambda<L>-seed<S>/ when there are
# several, so report.py gives mean +- sd), REG_ARGS [] (extra flags for the
# SinReQ runs only, e.g. "--lambda-schedule delayed-tanh --sinreq-norm
# global"), TRAIN_ARGS [] (extra flags for every run), BACKEND [cpu],
# THREADS [0 = all cores], NET [cifar10net; or a network file, FILE.yaml].
# A run that already has result.json is skipped, and every run starts with
# --resume auto: re-running the script after an interruption (a kill, a
# reboot, a node lost) continues the grid, and a run that was cut short
# continues from its newest checkpoint instead of starting over (bit-
# identical to an uninterrupted run). A run whose settings were changed
# since it was cut short is refused by that check and marked failed; delete
# its directory to start it over. A run that fails leaves
# OUT_DIR/<run>.failed holding its exit code (the report says "failed");
# the next attempt at that run removes it.
set -euo pipefail
usage="usage: jobs/cifar10net_grid.sh DATA.h5 OUT_DIR [--bits LIST] [--quantizers LIST] [--from-scratch] [--quiet]"
die() { echo "cifar10net_grid: $*" >&2; exit 1; }
source "$(dirname "$0")/lib.sh"
pos=() bits_list="3,4,5" quants="dorefa,wrpn" quiet=() from_scratch=0
while [ $# -gt 0 ]; do
    case $1 in
        --bits) [ $# -ge 2 ] || die "--bits needs a list"; bits_list=$2; shift 2 ;;
        --quantizers) [ $# -ge 2 ] || die "--quantizers needs a list"; quants=$2; shift 2 ;;
        --quiet) quiet=(--quiet); shift ;;
        --from-scratch) from_scratch=1; shift ;;
        -h|--help) echo "$usage"; exit 0 ;;
        -*) die "unknown option '$1' ($usage)" ;;
        *) pos+=("$1"); shift ;;
    esac
done
[ "${#pos[@]}" = 2 ] || die "$usage"
data=${pos[0]} out=${pos[1]}
IFS=, read -r -a bits <<< "$bits_list"
[ "${#bits[@]}" -gt 0 ] || die "--bits: empty list"
for b in "${bits[@]}"; do
    [[ "$b" =~ ^[2-8]$ ]] || die "--bits: '$b' is not a bit width in 2..8"
done
IFS=, read -r -a quant <<< "$quants"
[ "${#quant[@]}" -gt 0 ] || die "--quantizers: empty list"
for q in "${quant[@]}"; do
    [[ "$q" =~ ^(dorefa|wrpn)$ ]] || die "--quantizers: unknown quantizer '$q' (dorefa, wrpn)"
done
sinreq=${SINREQ:-$(sr_bin sinreq)}
net=${NET:-cifar10net}
read -r -a train_args <<< "${TRAIN_ARGS:-}"
common=(--net "$net" --data "$data" --batch 128 --backend "${BACKEND:-cpu}"
        --threads "${THREADS:-0}" --seed "${SEED:-1}" "${quiet[@]}"
        "${train_args[@]}")
fp_epochs=${FP_EPOCHS:-30} fp_lr=${FP_LR:-0.05}
mkdir -p "$out"

if [ ! -f "$out/fp/result.json" ]; then
    "$sinreq" train "${common[@]}" --out "$out/fp" --resume auto \
        --epochs "$fp_epochs" --lr "$fp_lr" --lr-schedule cosine
fi
# the quantized runs: fine-tuned from fp (the authors' regime) or trained
# from random weights with fp's recipe
if [ "$from_scratch" = 1 ]; then
    start=() epochs=$fp_epochs lr=$fp_lr
else
    start=(--init "$out/fp/model.h5") epochs=${FT_EPOCHS:-5} lr=${FT_LR:-0.001}
fi
seeds=(${SEEDS:-${SEED:-1}})
read -r -a reg_args <<< "${REG_ARGS:-}"
for seed in "${seeds[@]}"; do
  suffix=""
  [ "${#seeds[@]}" -gt 1 ] && suffix="-seed$seed"
  for q in "${quant[@]}"; do
    for b in "${bits[@]}"; do
        for lam in 0 "${LAMBDA:-1}"; do
            run="$out/$q$b-lambda$lam$suffix"
            [ -f "$run/result.json" ] && continue
            rm -f "$run.failed"
            extra=()
            [ "$lam" != 0 ] && extra=("${reg_args[@]}")
            "$sinreq" train "${common[@]}" --seed "$seed" --out "$run" --resume auto \
                "${start[@]}" --quantizer "$q" --bits "$b" \
                --sinreq-lambda "$lam" --epochs "$epochs" \
                --lr "$lr" --lr-schedule cosine \
                --hist-epochs 0,last "${extra[@]}" \
                || { rc=$?; echo "$rc" > "$run.failed"
                     echo "grid: $run failed (exit $rc), see $run/train.log" >&2; }
        done
    done
  done
done
python3 "$sr_jobs_dir/report.py" "$out"
