#!/usr/bin/env bash
# bench/ops.sh: conv2d op benchmark, PyTorch vs the sinreq CPU and Vulkan
# backends, in one run on one machine, side by side.
#
#   bench/ops.sh [--threads N] [--reps R] [--batch B] [--shapes S]
#                [--out FILE] [--quick] [--backends LIST] [--build-dir DIR]
#                [--raw-dir DIR] [--max-seconds S] [--strict]
#
# Builds bench_ops if needed (cmake in build/), then runs, one after the
# other: bench/bench_ops_torch.py (torch.set_num_threads = N), bench_ops
# --backend cpu (N threads), bench_ops --backend vulkan (LP_NUM_THREADS = N,
# for lavapipe). Joins the three TSVs with bench/join.py and prints a table
# (shape, direction, torch, cpu, cpu/torch, vulkan, vulkan/torch GFLOP/s)
# and the summary: geometric mean of cpu/torch (floor 0.7), minimum and
# geometric mean of Vulkan GFLOP/s over the 3x3 shapes (floor 10 on the
# minimum, meant for lavapipe), and the CPU backend's geometric mean as a
# fraction of the FP32 peak bench_ops measures (floor 0.40), each floor met
# or not.
#
# Options
#   --threads N      threads for every side (default: nproc)
#   --reps R         timed repetitions per row, median reported (default 3)
#   --warmup W       untimed calls per row first (default 1)
#   --batch B        batch size (default 128)
#   --shapes S       resnet20 | vgg11 | all (default all)
#   --quick          1 rep, batch 8 unless --batch given (smoke test)
#   --backends LIST  comma list among torch,cpu,vulkan (default all three)
#   --out FILE       also write the table + summary here
#                    (default RAW_DIR/table.txt)
#   --raw-dir DIR    where the per-backend TSVs and logs go
#                    (default build/bench-ops)
#   --build-dir DIR  CMake build folder (default build)
#   --max-seconds S  stop a side after S seconds (rows not reached are NA;
#                    default 0 = no limit)
#   --cpu-time       time the sinreq CPU side by CPU time / threads (a
#                    machine shared with other jobs; see bench_ops --help)
#   --strict         exit 3 when a floor is not met
# Environment: PYTHON (a python3 that imports torch; default: the first of
# python3, /usr/bin/python3 that does), VK_ICD_FILENAMES (choose the Vulkan
# driver; unset = the backend's choice), SETTLE (seconds of pause before
# each side, default 5).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

threads=$(nproc)
reps=3
warmup=1
batch=
shapes=all
quick=0
backends=torch,cpu,vulkan
out=
raw=build/bench-ops
build=build
strict=
cpu_time=
max_s=0
settle=${SETTLE:-5}

die() { echo "ops.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=${2:?}; shift 2 ;;
        --reps) reps=${2:?}; shift 2 ;;
        --warmup) warmup=${2:?}; shift 2 ;;
        --batch) batch=${2:?}; shift 2 ;;
        --shapes) shapes=${2:?}; shift 2 ;;
        --quick) quick=1; shift ;;
        --backends) backends=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --raw-dir) raw=${2:?}; shift 2 ;;
        --build-dir) build=${2:?}; shift 2 ;;
        --strict) strict=--strict; shift ;;
        --cpu-time) cpu_time=--cpu-time; shift ;;
        --max-seconds) max_s=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done
if [ "$quick" = 1 ]; then
    reps=1
    batch=${batch:-8}
fi
batch=${batch:-128}
out=${out:-$raw/table.txt}
has() { case ",$backends," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# --- build (a no-op when up to date) -----------------------------------
if has cpu || has vulkan; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build.cmake.log" 2>&1 \
            || { cat "$build.cmake.log" >&2; die "cmake configure failed"; }
    fi
    cmake --build "$build" -j "$(nproc)" --target bench_ops >/dev/null \
        || die "building bench_ops failed (run: cmake --build $build --target bench_ops)"
fi
bench_ops=$build/bench/bench_ops

# --- a python3 that imports torch ---------------------------------------
find_python() {
    local p
    for p in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    return 1
}
py=
if has torch; then
    py=$(find_python) || die "no python3 here imports torch (Debian: apt-get install python3-torch)"
fi
joinpy=$(command -v python3 || echo /usr/bin/python3)

mkdir -p "$raw" "$(dirname "$out")"
rm -f "$raw"/torch.tsv "$raw"/cpu.tsv "$raw"/vulkan.tsv
model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
common=(--batch "$batch" --shapes "$shapes" --reps "$reps" --warmup "$warmup"
        --threads "$threads")
echo "ops.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), ${model:-unknown CPU}, $(nproc) cores;" \
     "threads $threads, batch $batch, reps $reps, warm-up $warmup; load $load_before" >&2

status=0
run_side() { # name, command...
    local name=$1; shift
    # A side started right after another one measures slow on some VMs
    # (seen here: 0.37 of peak right after PyTorch, 0.44 alone); pause first.
    sleep "$settle"
    echo "ops.sh: running $name ..." >&2
    local t0=$SECONDS
    local rc=0
    if [ "$max_s" -gt 0 ]; then
        timeout "$max_s" "$@" >"$raw/$name.tsv" 2>"$raw/$name.log" || rc=$?
    else
        "$@" >"$raw/$name.tsv" 2>"$raw/$name.log" || rc=$?
    fi
    if [ "$rc" != 0 ]; then
        [ "$rc" = 124 ] && echo "ops.sh: $name stopped after $max_s s (--max-seconds)" >>"$raw/$name.log"
        echo "ops.sh: $name exited with $rc; see $raw/$name.log:" >&2
        tail -5 "$raw/$name.log" >&2
        status=2
    fi
    echo "ops.sh: $name took $((SECONDS - t0)) s" >&2
}
if has torch; then
    run_side torch env OMP_NUM_THREADS="$threads" "$py" bench/bench_ops_torch.py "${common[@]}"
fi
if has cpu; then
    run_side cpu env OMP_NUM_THREADS="$threads" \
        "$bench_ops" --backend cpu "${common[@]}" $cpu_time
fi
if has vulkan; then
    run_side vulkan env LP_NUM_THREADS="$threads" "$bench_ops" --backend vulkan \
        --verbose "${common[@]}"
    grep -m1 'backend vulkan on' "$raw/vulkan.log" >&2 || true
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- join ----------------------------------------------------------------
base=torch
has torch || base=$(echo "$backends" | cut -d, -f1)
args=(--base "$raw/$base.tsv")
for b in cpu vulkan; do
    if has "$b" && [ "$b" != "$base" ]; then args+=(--cmp "$raw/$b.tsv"); fi
done
title="conv2d GFLOP/s, $(date -u '+%Y-%m-%d'), ${model:-unknown CPU} ($(nproc) cores), threads $threads, batch $batch, median of $reps after $warmup warm-up; load avg before $load_before, after $load_after"
jrc=0
"$joinpy" bench/join.py "${args[@]}" --title "$title" --out "$out" --tsv "$raw/joined.tsv" \
    --floor-ratio cpu=0.7 --floor-3x3 vulkan=10 $strict || jrc=$?
# CPU backend against the machine: geometric mean of its conv GFLOP/s over
# every row (ResNet-20 and VGG-11 shapes) as a fraction of the FP32 peak
# that bench_ops measured (an FMA loop with the same kernel set and threads).
if has cpu && [ -s "$raw/cpu.tsv" ]; then
    "$joinpy" - "$raw/cpu.tsv" "$raw/cpu.log" $strict >>"$out" <<'PY' || jrc=$?
import math, re, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
head, rows = rows[0], rows[1:]
g = [float(r[head.index("gflops")]) for r in rows
     if r[head.index("gflops")] not in ("NA", "")]
log = open(sys.argv[2]).read()
m = re.search(r"FP32 peak ([0-9.]+) GFLOP/s \((\w+)", log)
k = re.search(r"conv ([\w+]+)", log)
if not g or not m:
    print("cpu vs peak: no figures"); sys.exit(0)
geo = math.exp(sum(math.log(v) for v in g) / len(g))
peak = float(m.group(1))
frac = geo / peak
ok = frac >= 0.40
print(f"cpu conv kernels {k.group(1) if k else '?'}: geomean {geo:.1f} GFLOP/s "
      f"over {len(g)} rows = {frac:.3f} of the measured FP32 peak "
      f"{peak:.1f} GFLOP/s ({m.group(2)} FMA loop); floor 0.40: "
      f"{'met' if ok else 'NOT met'}")
sys.exit(3 if (not ok and "--strict" in sys.argv[3:]) else 0)
PY
    tail -1 "$out" >&2
fi
echo "ops.sh: table in $out, raw TSVs in $raw/" >&2
[ "$jrc" = 0 ] || exit "$jrc"
exit "$status"
