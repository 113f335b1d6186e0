#!/usr/bin/env bash
# bench/gpu.sh: Vulkan backend vs PyTorch (cuDNN) on an NVIDIA machine that
# has no package registry and no Vulkan loader, oneDNN, HDF5 or MPI
# installed (e.g. an H100/H200 node reachable only by copying files to it).
#
# Needs carry/ from bench/gpu_pack.sh (binaries built on a machine with the
# packages, plus the shared libraries they use, libvulkan.so.1 included;
# docs/performance.md, "gpu_pack.sh + gpu.sh"). Copy the repository with
# carry/ to the GPU machine and run from its root:
#
#   bash bench/gpu.sh [options]
#
# Steps
#   1. environment: GPU (nvidia-smi -L), the Vulkan ICD json, library paths;
#      the binaries' libraries must all resolve (ldd), else it stops.
#   2. check_vk_vs_cpu: Vulkan vs CPU backend conv2d fwd/bwd on a few
#      shapes, max relative error printed; stops (exit 2) above --tol.
#   3. bench_ops --backend vulkan on the ResNet-20 / VGG-11 conv shapes.
#   4. bench/bench_ops_torch.py --device cuda (float32, TF32 off, cuDNN
#      benchmark mode on).
#   5. bench/join.py: table of Vulkan vs PyTorch GFLOP/s and ratios.
#
# Options
#   --carry DIR          packed folder (default carry)
#   --icd FILE           Vulkan ICD json (default: NVIDIA's, searched in
#                        /usr/local/nvidia/share/vulkan/icd.d, /usr/share/...,
#                        /etc/vulkan/icd.d; else $VK_ICD_FILENAMES)
#   --vk-device STR      Vulkan device index or name substring (default:
#                        the backend's choice)
#   --torch-device DEV   cuda (default) or cpu (a fallback for testing this
#                        script on a machine without CUDA)
#   --batch B            (default 128)      --reps R     (default 5)
#   --warmup W           (default 2)        --shapes S   (default all)
#   --tol X              check bound on the max relative error (default 1e-4)
#   --threads N          CPU threads: torch on cpu, LP_NUM_THREADS for
#                        lavapipe, the CPU oracle (default nproc)
#   --out-dir DIR        results (default $OUT when set, else build/bench-gpu)
#   --skip-check / --skip-vulkan / --skip-torch
#   --keep-going         carry on after a failed check
# Exit: 0 done, 1 usage or setup error, 2 check failed or a step failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

carry=carry
icd=
vk_device=
torch_device=cuda
batch=128
reps=5
warmup=2
shapes=all
tol=1e-4
threads=$(nproc)
outdir=${OUT:-build/bench-gpu}
skip_check=0 skip_vulkan=0 skip_torch=0 keep_going=0

die() { echo "gpu.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --carry) carry=${2:?}; shift 2 ;;
        --icd) icd=${2:?}; shift 2 ;;
        --vk-device) vk_device=${2:?}; shift 2 ;;
        --torch-device) torch_device=${2:?}; shift 2 ;;
        --batch) batch=${2:?}; shift 2 ;;
        --reps) reps=${2:?}; shift 2 ;;
        --warmup) warmup=${2:?}; shift 2 ;;
        --shapes) shapes=${2:?}; shift 2 ;;
        --tol) tol=${2:?}; shift 2 ;;
        --threads) threads=${2:?}; shift 2 ;;
        --out-dir) outdir=${2:?}; shift 2 ;;
        --skip-check) skip_check=1; shift ;;
        --skip-vulkan) skip_vulkan=1; shift ;;
        --skip-torch) skip_torch=1; shift ;;
        --keep-going) keep_going=1; shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done
mkdir -p "$outdir" || die "cannot create $outdir"
log=$outdir/gpu.log
: >"$log"
say() { echo "gpu.sh: $*" | tee -a "$log" >&2; }
status=0

# --- 1. environment ------------------------------------------------------
say "$(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n), $(nproc) CPUs; batch $batch, reps $reps, warm-up $warmup"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L 2>&1 | tee -a "$log" >&2
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu \
        --format=csv,noheader 2>&1 | tee -a "$log" >&2
fi

# ldconfig's cache, read once (grep -q on a pipe would SIGPIPE ldconfig and
# fail the pipeline under pipefail).
ldcache=$(ldconfig -p 2>/dev/null || true)
in_ldcache() { grep -q "^[[:space:]]*$1 " <<<"$ldcache"; }

# Where the machine has no Vulkan loader: .deb packages of it (and of
# libglvnd) placed in .gl/ are unpacked into / (root only). carry/lib's own
# libvulkan.so.1 makes this optional.
if [ -d .gl ] && ls .gl/*.deb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
   ! in_ldcache libvulkan.so.1; then
    say "unpacking .gl/*.deb into / (Vulkan loader, glvnd)"
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    ldcache=$(ldconfig -p 2>/dev/null || true)
fi

if [ "$skip_check" = 0 ] || [ "$skip_vulkan" = 0 ]; then
    [ -x "$carry/bin/bench_ops" ] && [ -x "$carry/bin/check_vk_vs_cpu" ] ||
        die "$carry/bin/{bench_ops,check_vk_vs_cpu} missing: run bench/gpu_pack.sh here and carry '$carry'"
    if [ -z "$icd" ]; then
        for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
                 /usr/share/vulkan/icd.d/nvidia_icd.json \
                 /etc/vulkan/icd.d/nvidia_icd.json \
                 /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
            [ -f "$f" ] && { icd=$f; break; }
        done
    fi
    if [ -z "$icd" ] && [ -n "${VK_ICD_FILENAMES:-}" ]; then icd=$VK_ICD_FILENAMES; fi
    [ -n "$icd" ] && [ -f "${icd%%:*}" ] ||
        die "no Vulkan ICD json found (NVIDIA's is usually /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json); pass --icd"
    say "Vulkan ICD: $icd"
    tr -s ' \n' ' ' <"${icd%%:*}" | tee -a "$log" >&2; echo | tee -a "$log" >&2
    # Loader 1.3.239 reads both; VK_DRIVER_FILES is the newer name.
    export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
    if [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
        export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    fi
    export LP_NUM_THREADS=${LP_NUM_THREADS:-$threads}

    # Library path for OUR binaries only (python/torch keeps the machine's).
    binlib=$root/$carry/lib
    if ! in_ldcache libGLdispatch.so.0 && [ -d "$carry/lib-gl" ]; then
        binlib=$binlib:$root/$carry/lib-gl
    fi
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$d" ] && binlib=$binlib:$d
    done
    binlib=$binlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    say "LD_LIBRARY_PATH for bench binaries: $binlib"
    missing=$(LD_LIBRARY_PATH=$binlib ldd "$carry/bin/bench_ops" "$carry/bin/check_vk_vs_cpu" | grep 'not found' | sort -u)
    [ -z "$missing" ] || die "unresolved libraries: $missing"
    # The ICD's own library must load too (dlopen'ed by the loader).
    icdlib=$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "${icd%%:*}" | head -1)
    if [ -n "$icdlib" ]; then
        p=$icdlib
        case "$p" in
            /*) ;;
            *) p=$(IFS=:; for d in $binlib; do [ -e "$d/$p" ] && { echo "$d/$p"; break; }; done)
               [ -n "$p" ] || p=$(awk -v s="$icdlib" '$1 == s {print $NF; exit}' <<<"$ldcache") ;;
        esac
        if [ -n "$p" ] && [ -e "$p" ]; then
            m=$(LD_LIBRARY_PATH=$binlib ldd "$p" 2>&1 | grep 'not found' | sort -u)
            say "ICD library $icdlib -> $p${m:+; UNRESOLVED: $m}"
        else
            say "warning: ICD library $icdlib not found on the library path; the loader may fail"
        fi
    fi
fi
run_bin() { LD_LIBRARY_PATH=$binlib "$@"; }
devflag=()
[ -n "$vk_device" ] && devflag=(--device "$vk_device")

# --- 2. correctness --------------------------------------------------------
if [ "$skip_check" = 0 ]; then
    say "check: Vulkan vs CPU backend (tol $tol)"
    run_bin timeout 300 "$carry/bin/check_vk_vs_cpu" --verbose --tol "$tol" \
        --threads "$threads" "${devflag[@]}" 2>&1 | tee "$outdir/check.txt" >&2
    rc=${PIPESTATUS[0]}
    if [ "$rc" != 0 ]; then
        say "check FAILED (exit $rc; 3 = mismatch, 2 = backend failure, 124 = timeout)"
        status=2
        [ "$keep_going" = 1 ] || exit 2
    else
        say "check passed"
    fi
fi

common=(--batch "$batch" --reps "$reps" --warmup "$warmup" --shapes "$shapes")

# --- 3. Vulkan benchmark ---------------------------------------------------
if [ "$skip_vulkan" = 0 ]; then
    say "bench_ops --backend vulkan"
    t0=$SECONDS
    run_bin timeout 420 "$carry/bin/bench_ops" --backend vulkan --verbose \
        --threads "$threads" "${devflag[@]}" "${common[@]}" \
        >"$outdir/vulkan.tsv" 2>"$outdir/vulkan.log"
    rc=$?
    cat "$outdir/vulkan.log" >&2
    say "vulkan: exit $rc, $((SECONDS - t0)) s"
    [ "$rc" = 0 ] || status=2
fi

# --- 4. PyTorch ------------------------------------------------------------
if [ "$skip_torch" = 0 ]; then
    py=
    for p in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' 2>/dev/null; then
            py=$p; break
        fi
    done
    [ -n "$py" ] || die "no python3 imports torch"
    say "bench_ops_torch.py --device $torch_device ($py)"
    t0=$SECONDS
    env PYTHONUNBUFFERED=1 timeout 420 "$py" bench/bench_ops_torch.py \
        --device "$torch_device" --threads "$threads" "${common[@]}" \
        >"$outdir/torch.tsv" 2>"$outdir/torch.log"
    rc=$?
    cat "$outdir/torch.log" >&2
    say "torch: exit $rc, $((SECONDS - t0)) s"
    [ "$rc" = 0 ] || status=2
fi

# --- 5. table ----------------------------------------------------------------
if [ "$skip_torch" = 0 ] && [ "$skip_vulkan" = 0 ]; then
    joinpy=$(command -v python3 || echo /usr/bin/python3)
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
    vkdev=$(sed -n 's/^bench_ops: backend vulkan on \(.*\); batch.*/\1/p' "$outdir/vulkan.log" | head -1)
    "$joinpy" bench/join.py --base "$outdir/torch.tsv" --cmp "$outdir/vulkan.tsv" \
        --title "conv2d GFLOP/s, $(date -u '+%Y-%m-%d'): Vulkan on ${vkdev:-?} vs PyTorch ($torch_device${gpu:+, $gpu}), batch $batch, median of $reps" \
        --out "$outdir/table.txt" --tsv "$outdir/joined.tsv" || status=2
fi
say "results in $outdir/ (exit $status)"
exit "$status"
