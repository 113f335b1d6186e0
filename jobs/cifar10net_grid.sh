#!/usr/bin/env bash
# The paper's grid for one small network on one node, run one after another:
# full precision, then {DoReFa, WRPN} x {3, 4, 5} bits x {without, with
# SinReQ}, each fine-tuned from the full-precision model (the authors'
# regime), then the table (jobs/report.py).
#   jobs/cifar10net_grid.sh DATA.h5 OUT_DIR
# Settings through the environment (defaults in brackets): FP_EPOCHS [30],
# FT_EPOCHS [5], FT_LR [0.001], LAMBDA [1], SEED [1] (full precision and
# the fine-tuning runs), SEEDS [$SEED] (fine-tuning seeds: every cell runs
# once per seed, in <quantizer><bits>-lambda<L>-seed<S>/ when there are
# several, so report.py gives mean +- sd), REG_ARGS [] (extra flags for the
# SinReQ runs only, e.g. "--lambda-schedule delayed-tanh --sinreq-norm
# global"), TRAIN_ARGS [] (extra flags for every run), BACKEND [cpu],
# THREADS [0 = all cores], NET [cifar10net].
# A run that already has result.json is skipped: re-running the script
# after an interruption continues the grid.
set -euo pipefail
data=${1:?usage: jobs/cifar10net_grid.sh DATA.h5 OUT_DIR}
out=${2:?usage: jobs/cifar10net_grid.sh DATA.h5 OUT_DIR}
source "$(dirname "$0")/lib.sh"
sinreq=${SINREQ:-$(sr_bin sinreq)}
net=${NET:-cifar10net}
read -r -a train_args <<< "${TRAIN_ARGS:-}"
common=(--net "$net" --data "$data" --batch 128 --backend "${BACKEND:-cpu}"
        --threads "${THREADS:-0}" --seed "${SEED:-1}" --quiet
        "${train_args[@]}")
mkdir -p "$out"

if [ ! -f "$out/fp/result.json" ]; then
    "$sinreq" train "${common[@]}" --out "$out/fp" --force \
        --epochs "${FP_EPOCHS:-30}" --lr 0.05 --lr-schedule cosine
fi
seeds=(${SEEDS:-${SEED:-1}})
read -r -a reg_args <<< "${REG_ARGS:-}"
for seed in "${seeds[@]}"; do
  suffix=""
  [ "${#seeds[@]}" -gt 1 ] && suffix="-seed$seed"
  for quant in dorefa wrpn; do
    for bits in 3 4 5; do
        for lam in 0 "${LAMBDA:-1}"; do
            run="$out/$quant$bits-lambda$lam$suffix"
            [ -f "$run/result.json" ] && continue
            extra=()
            [ "$lam" != 0 ] && extra=("${reg_args[@]}")
            "$sinreq" train "${common[@]}" --seed "$seed" --out "$run" --force \
                --init "$out/fp/model.h5" --quantizer "$quant" --bits "$bits" \
                --sinreq-lambda "$lam" --epochs "${FT_EPOCHS:-5}" \
                --lr "${FT_LR:-0.001}" --lr-schedule cosine \
                --hist-epochs 0,last "${extra[@]}" \
                || echo "grid: $run failed (exit $?), see $run/train.log" >&2
        done
    done
  done
done
python3 "$sr_jobs_dir/report.py" "$out"
