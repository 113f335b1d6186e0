#!/usr/bin/env bash
# The paper's whole grid (docs/method.md, The claim and how it is measured) as Slurm jobs: per network a
# full-precision run, then {DoReFa, WRPN} x {3, 4, 5} bits x {without, with
# SinReQ} fine-tuned from it (the authors' regime), then one job that writes
# the table (jobs/report.py). Every run is a jobs/train.sbatch job, so it
# survives preemption and time limits (checkpoint, requeue, exact resume).
#
#   jobs/paper_grid.sh OUT_DIR [--cifar10 FILE.h5] [--svhn FILE.h5]
#       [--imagenet FILE.h5] [--nets LIST] [--bits LIST] [--quantizers LIST]
#       [--seeds LIST] [--ranks N] [--file-data cifar10|svhn|imagenet]
#       [--quiet] [--dry-run]
#
# Datasets are sinreq-prep files: --cifar10 feeds cifar10net, resnet20 and
# vgg11, --svhn svhnnet, --imagenet alexnet and resnet18. --nets (comma
# list) defaults to every network whose dataset was given; a listed network
# without its dataset is an error. An entry ending in .yaml/.yml is a
# network file: its runs go to OUT_DIR/<file name without .yaml>/, train on
# the --file-data dataset [cifar10] with the "file" recipe below (ResNet-20's),
# and the model files keep the network's text. --bits [3,4,5], --quantizers
# [dorefa,wrpn], --seeds [1] (fine-tuning seeds; several give
# <cell>-seed<S>/ directories and mean +- sd in the report), --ranks [1]
# (MPI ranks per run: sbatch -n). --quiet passes --quiet to every run;
# without it each Slurm log gets a plain progress line every 30 s
# (sinreq train --progress-every) and the epoch lines. --dry-run prints the
# sbatch commands and submits nothing.
#
# Layout: OUT_DIR/<net>/fp/, OUT_DIR/<net>/<quantizer><bits>-lambda<L>[-seed<S>]/
# (the same names as jobs/cifar10net_grid.sh), Slurm logs in
# OUT_DIR/<net>/slurm/, the table in OUT_DIR/report.md.
# Fine-tuning jobs depend on their network's full-precision job (afterok;
# if it fails they are cancelled, not left pending); the report job on all
# of them (afterany). Re-running the script submits only what is missing: a
# run with result.json is done, a run whose recorded job is still queued or
# running is reused (as a dependency too).
#
# Per-network recipes (docs/usage.md, "The paper's grid: jobs/paper_grid.sh (Slurm)
# and jobs/cifar10net_grid.sh (one node)" gives the
# reasons): the table below; these environment variables override a column
# for every network: FP_EPOCHS, FP_LR, FT_EPOCHS, FT_LR, BATCH, LAMBDA.
# Also: REG_ARGS (extra flags for the SinReQ runs, e.g. "--lambda-schedule
# delayed-tanh --sinreq-norm global"), TRAIN_ARGS (extra flags for every
# run, e.g. "--backend vulkan --threads 8"), SBATCH_ARGS (extra sbatch
# flags, e.g. "-p gpu --gres=gpu:1 -t 1-00:00"), SINREQ (the binary, passed
# to train.sbatch; default: jobs/lib.sh's search: the installed one beside
# an installed copy of this script, else build/src/cli/sinreq, else PATH).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
die() { echo "paper_grid: $*" >&2; exit 1; }

#        net        dataset   FP epochs  FP lr  FP schedule  batch  FT epochs  lambda
recipes="cifar10net cifar10   30         0.05   cosine       128    5          1
svhnnet    svhn      30         0.05   cosine       128    5          1
resnet20   cifar10   90         0.1    multistep    128    10         1
vgg11      cifar10   90         0.05   multistep    128    10         10
alexnet    imagenet  90         0.01   multistep    256    5          1
resnet18   imagenet  90         0.1    multistep    256    5          1
file       cifar10   90         0.1    multistep    128    10         1"

out=""
nets="" bits_list="3,4,5" quants="dorefa,wrpn" seeds_list="1" ranks=1 dry=0
file_data=cifar10
quiet=()
declare -A data=()
while [ $# -gt 0 ]; do
    case $1 in
        --cifar10|--svhn|--imagenet)
            [ $# -ge 2 ] || die "$1 needs a file"
            data[${1#--}]=$2; shift 2 ;;
        --nets) nets=${2:?--nets needs a list}; shift 2 ;;
        --bits) bits_list=${2:?--bits needs a list}; shift 2 ;;
        --quantizers) quants=${2:?--quantizers needs a list}; shift 2 ;;
        --seeds) seeds_list=${2:?--seeds needs a list}; shift 2 ;;
        --ranks) ranks=${2:?--ranks needs a number}; shift 2 ;;
        --file-data) file_data=${2:?--file-data needs cifar10, svhn or imagenet}; shift 2 ;;
        --quiet) quiet=(--quiet); shift ;;
        --dry-run) dry=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [ -z "$out" ] || die "one OUT_DIR only (got '$out' and '$1')"
           out=$1; shift ;;
    esac
done
[ -n "$out" ] || die "usage: jobs/paper_grid.sh OUT_DIR --cifar10 FILE.h5 ... (see --help)"

# --- check everything before submitting anything ------------------------
recipe() { awk -v n="$1" '$1 == n' <<< "$recipes"; }
is_netfile() { [[ ${1,,} == *.yaml || ${1,,} == *.yml ]]; }
case $file_data in cifar10|svhn|imagenet) ;;
    *) die "--file-data '$file_data': cifar10, svhn or imagenet" ;; esac
[[ $ranks =~ ^[1-9][0-9]*$ ]] || die "--ranks '$ranks': a positive integer"
IFS=, read -r -a bits <<< "$bits_list"
for b in "${bits[@]}"; do
    [[ $b =~ ^[0-9]+$ ]] && [ "$b" -ge 2 ] && [ "$b" -le 8 ] \
        || die "--bits: '$b' is not a bit width in 2..8"
done
IFS=, read -r -a quant <<< "$quants"
for q in "${quant[@]}"; do
    [ "$q" = dorefa ] || [ "$q" = wrpn ] \
        || die "--quantizers: unknown quantizer '$q' (dorefa, wrpn)"
done
IFS=', ' read -r -a seeds <<< "$seeds_list"
for s in "${seeds[@]}"; do
    [[ $s =~ ^[0-9]+$ ]] || die "--seeds: '$s' is not a seed"
done
for k in "${!data[@]}"; do
    [ -r "${data[$k]}" ] || die "--$k: cannot read '${data[$k]}'"
    data[$k]=$(cd "$(dirname "${data[$k]}")" && pwd)/$(basename "${data[$k]}")
done
if [ -z "$nets" ]; then
    nets=$(awk '$1 != "file" {print $1, $2}' <<< "$recipes" | while read -r n d; do
        if [ -n "${data[$d]:-}" ]; then printf '%s,' "$n"; fi; done)
    nets=${nets%,}
    [ -n "$nets" ] || die "no dataset given: --cifar10, --svhn or --imagenet"
fi
IFS=, read -r -a net_list <<< "$nets"
# per entry: its directory name, its --net value and its recipe (a network
# file gets the "file" row with the --file-data dataset)
declare -A net_dir=() net_arg=() net_recipe=()
for n in "${net_list[@]}"; do
    if is_netfile "$n"; then
        [ -r "$n" ] || die "--nets: cannot read network file '$n'"
        key=$(basename "$n"); key=${key%.*}
        net_arg[$n]=$(realpath "$n")
        net_recipe[$n]=$(recipe file | awk -v d="$file_data" '{$2 = d; print}')
    else
        key=$n
        net_arg[$n]=$n
        net_recipe[$n]=$(recipe "$n")
        [ "$n" != file ] && [ -n "${net_recipe[$n]}" ] \
            || die "--nets: unknown network '$n' ($(awk '$1 != "file" {printf "%s ", $1}' <<< "$recipes")or a network file ending in .yaml)"
    fi
    for other in "${!net_dir[@]}"; do
        [ "${net_dir[$other]}" != "$key" ] \
            || die "--nets: '$other' and '$n' would both write $key/"
    done
    net_dir[$n]=$key
    d=$(awk '{print $2}' <<< "${net_recipe[$n]}")
    [ -n "${data[$d]:-}" ] || die "network $n needs --$d FILE.h5"
done
if [ "$dry" = 0 ]; then
    command -v sbatch > /dev/null || die "sbatch not found: run this on a Slurm login node (or use --dry-run)"
fi
out=$(realpath -m "$out")
[ "$dry" = 1 ] || mkdir -p "$out" || die "cannot create $out"
read -r -a reg_args <<< "${REG_ARGS:-}"
read -r -a train_args <<< "${TRAIN_ARGS:-}"
read -r -a sbatch_args <<< "${SBATCH_ARGS:-}"
export SINREQ=${SINREQ:-$(sr_bin sinreq)}

# --- submission -----------------------------------------------------------
submitted=0 reused=0 done_runs=0 fake=0
all_ids=()
# submit RUN_DIR JOB_NAME DEPENDENCY ARGS...: sets job_id to the job to
# depend on ("" when the run is done); not in a subshell, for the counters
submit() {
    local dir=$1 name=$2 dep=$3 logs job state
    shift 3
    logs=$(dirname "$dir")/slurm
    if [ -f "$dir/result.json" ]; then
        done_runs=$((done_runs + 1)); job_id=""; return
    fi
    if [ -f "$logs/$name.job" ] && [ "$dry" = 0 ]; then
        job=$(cat "$logs/$name.job")
        state=$(squeue -h -j "$job" -o %T 2> /dev/null || true)
        if [ -n "$state" ]; then
            echo "paper_grid: $name: job $job is $state, not submitted again" >&2
            reused=$((reused + 1)); job_id=$job; all_ids+=("$job"); return
        fi
    fi
    local cmd=(sbatch --parsable -J "sr-$name" -n "$ranks"
               -o "$logs/$name-%j.out" "${sbatch_args[@]}")
    [ -n "$dep" ] && cmd+=(--dependency="afterok:$dep" --kill-on-invalid-dep=yes)
    cmd+=("$sr_jobs_dir/train.sbatch" "$@" "${train_args[@]}" --out "$dir")
    if [ "$dry" = 1 ]; then
        fake=$((fake + 1))
        echo "${cmd[*]}"; job_id=DRY$fake; all_ids+=("$job_id"); return
    fi
    mkdir -p "$logs"
    job=$("${cmd[@]}") || die "sbatch failed for $name"
    job=${job%%;*}
    echo "$job" > "$logs/$name.job"
    submitted=$((submitted + 1))
    job_id=$job; all_ids+=("$job")
}

for entry in "${net_list[@]}"; do
    read -r _ dkey fp_epochs fp_lr fp_sched batch ft_epochs lambda <<< "${net_recipe[$entry]}"
    net=${net_dir[$entry]}
    batch=${BATCH:-$batch}
    common=(--net "${net_arg[$entry]}" --data "${data[$dkey]}" --batch "$batch" "${quiet[@]}")
    submit "$out/$net/fp" "$net-fp" "" "${common[@]}" --seed 1 \
        --epochs "${FP_EPOCHS:-$fp_epochs}" --lr "${FP_LR:-$fp_lr}" \
        --lr-schedule "$fp_sched"
    fp_job=$job_id
    lam=${LAMBDA:-$lambda}
    for seed in "${seeds[@]}"; do
        suffix=""
        [ "${#seeds[@]}" -gt 1 ] && suffix="-seed$seed"
        for q in "${quant[@]}"; do
            for b in "${bits[@]}"; do
                for l in 0 "$lam"; do
                    cell=$q$b-lambda$l$suffix
                    extra=()
                    [ "$l" != 0 ] && extra=("${reg_args[@]}")
                    submit "$out/$net/$cell" "$net-$cell" "$fp_job" \
                        "${common[@]}" --seed "$seed" --init "$out/$net/fp/model.h5" \
                        --quantizer "$q" --bits "$b" --sinreq-lambda "$l" \
                        --epochs "${FT_EPOCHS:-$ft_epochs}" --lr "${FT_LR:-0.001}" \
                        --lr-schedule cosine --hist-epochs 0,last "${extra[@]}"
                done
            done
        done
    done
done

report=(python3 "$sr_jobs_dir/report.py" "$out" --md "$out/report.md")
report_sh=$(printf '%q ' "${report[@]}")
if [ "${#all_ids[@]}" -eq 0 ]; then
    echo "paper_grid: every run has finished; the table:" >&2
    [ "$dry" = 1 ] && { echo "$report_sh"; exit 0; }
    exec "${report[@]}"
fi
dep=$(IFS=:; echo "${all_ids[*]}")
rcmd=(sbatch --parsable -J sr-report -n 1 -o "$out/report-%j.out"
      "${sbatch_args[@]}" --dependency="afterany:$dep" --wrap "$report_sh")
if [ "$dry" = 1 ]; then
    echo "${rcmd[*]}"
    echo "paper_grid: dry run: $fake job(s) and the report would be submitted, $done_runs run(s) done" >&2
    exit 0
fi
rjob=$("${rcmd[@]}") || die "sbatch failed for the report job"
rjob=${rjob%%;*}
echo "$rjob" > "$out/report.job"
echo "paper_grid: $submitted job(s) submitted, $reused still queued, $done_runs run(s) done; report job $rjob writes $out/report.md" >&2
