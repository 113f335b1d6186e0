#!/usr/bin/env bash
# bench/train_throughput.sh: images/s of the whole training step (forward,
# loss, backward, SGD momentum update), sinreq CPU backend vs PyTorch, same
# network, same batch, same thread count, synthetic data (no loader).
#
#   bench/train_throughput.sh [--nets LIST] [--batch B] [--threads N]
#                             [--warmup W] [--steps S] [--build-dir DIR]
#                             [--sinreq-bin PATH] [--rounds R] [--cpu-time]
#
# For every net (default resnet20,cifar10net,vgg11) runs, one after the
# other, bench/bench_train_torch.py (torch.set_num_threads = N) and
# bench_train --backend cpu --threads N, each W warm-up steps then S timed
# steps, PyTorch twice (default NCHW and --channels-last), and prints the
# median images/s of each and sinreq's ratio to PyTorch NCHW and to the
# faster of PyTorch's two layouts. --cpu-time times every side by its CPU
# time / threads instead of the wall clock (a machine shared with other
# jobs: the ratio then compares work, not the share of the cores each got).
# With --rounds R > 1 the pair is repeated R times (alternating, so load
# from other jobs hits both sides alike) and the median over rounds is
# shown. The load average (uptime) is printed before and after.
#
# Environment: PYTHON (a python3 that imports torch; default: the first of
# python3, /usr/bin/python3 that does); SETTLE (seconds of pause before each
# side, default 5).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

nets=resnet20,cifar10net,vgg11
batch=128
threads=$(nproc)
warmup=3
steps=10
build=build
bin=
rounds=1
cpu_time=
py=${PYTHON:-}
settle=${SETTLE:-5}

die() { echo "train_throughput.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --nets) nets=${2:?}; shift 2 ;;
        --batch) batch=${2:?}; shift 2 ;;
        --threads) threads=${2:?}; shift 2 ;;
        --warmup) warmup=${2:?}; shift 2 ;;
        --steps) steps=${2:?}; shift 2 ;;
        --build-dir) build=${2:?}; shift 2 ;;
        --sinreq-bin) bin=${2:?}; shift 2 ;;
        --rounds) rounds=${2:?}; shift 2 ;;
        --cpu-time) cpu_time=--cpu-time; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
done

if [ -z "$bin" ]; then
    bin=$build/bench/bench_train
    if [ ! -x "$bin" ]; then
        [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" >/dev/null
        cmake --build "$build" --target bench_train -j"$(nproc)" >/dev/null
    fi
fi
[ -x "$bin" ] || die "no bench_train at $bin"
if [ -z "$py" ]; then
    for p in python3 /usr/bin/python3; do
        if "$p" -c 'import torch' 2>/dev/null; then py=$p; break; fi
    done
fi
[ -n "$py" ] && "$py" -c 'import torch' 2>/dev/null ||
    die "no python3 that imports torch (set PYTHON)"

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2];
                          else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "# load before: $(uptime | sed 's/.*load average: //')"
echo "# batch $batch, threads $threads, warmup $warmup, steps $steps," \
     "rounds $rounds; $("$py" -c 'import torch; print("torch", torch.__version__)')"
[ -x "$build/src/cli/sinreq" ] &&
    echo "# sinreq: $(OMP_NUM_THREADS=$threads "$build/src/cli/sinreq" devices --backend cpu 2>&1 | grep -m1 "^selected" | sed "s/^selected: //")"
[ -n "$cpu_time" ] && echo "# timed by CPU time / threads (--cpu-time)"
# PyTorch both ways: its default NCHW and channels_last (NHWC, usually its
# faster CPU layout); sinreq is compared with NCHW and with the faster.
printf '%-11s %10s %10s %10s %8s %8s\n' net torch_nchw torch_nhwc sinreq \
    vs_nchw vs_best
IFS=, read -r -a list <<<"$nets"
for net in "${list[@]}"; do
    tv=(); cv=(); sv=()
    for ((r = 0; r < rounds; r++)); do
        common=(--net "$net" --batch "$batch" --threads "$threads"
                --warmup "$warmup" --steps "$steps" --no-header $cpu_time)
        # every side starts after a pause: right after a PyTorch process
        # exits, the next process measured 20-25% slower for a few seconds
        # (547 vs 696-724 images/s for sinreq resnet20 at 2 threads)
        sleep "$settle"
        t=$("$py" bench/bench_train_torch.py "${common[@]}" | cut -f7)
        sleep "$settle"
        c=$("$py" bench/bench_train_torch.py "${common[@]}" --channels-last | cut -f7)
        sleep "$settle"
        s=$("$bin" --backend cpu "${common[@]}" | cut -f7)
        tv+=("$t"); cv+=("$c"); sv+=("$s")
    done
    tm=$(printf '%s\n' "${tv[@]}" | median)
    cm=$(printf '%s\n' "${cv[@]}" | median)
    sm=$(printf '%s\n' "${sv[@]}" | median)
    best=$(awk -v a="$tm" -v b="$cm" 'BEGIN {print (a > b ? a : b)}')
    printf '%-11s %10.1f %10.1f %10.1f %8.2f %8.2f\n' "$net" "$tm" "$cm" "$sm" \
        "$(awk -v a="$sm" -v b="$tm" 'BEGIN {print a / b}')" \
        "$(awk -v a="$sm" -v b="$best" 'BEGIN {print a / b}')"
done
echo "# load after: $(uptime | sed 's/.*load average: //')"
