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
#   6. whole training step (forward, loss, backward, SGD momentum) of
#      resnet20 and vgg11 at batch 128 and cifar10net at batch 512:
#      a. correctness: bench_train on the Vulkan and the CPU backend, the
#         same 4 steps at batch 4; stops (exit 2) where a loss differs by
#         more than --train-tol (relative);
#      b. images/s of sinreq Vulkan (bench_train), PyTorch eager on CUDA
#         (TF32 off) and PyTorch replaying the step as one CUDA graph
#         (bench_train_torch.py --cuda-graph; "n/a" where capture fails);
#      c. train_table.txt: images/s and sinreq's ratio to both.
# Everything runs within --budget seconds (default 470): each step's
# timeout is cut to what is left, and steps with no time left are skipped
# (said in gpu.log). Without CUDA (torch.cuda.is_available() false) the
# PyTorch CUDA parts are skipped with a message; --dry-run then runs the
# PyTorch parts on the CPU so that every table is still made.
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
#   --skip-check / --skip-vulkan / --skip-torch / --skip-train
#   --keep-going         carry on after a failed check
#   --train-nets LIST    net:batch,... (default
#                        resnet20:128,vgg11:128,cifar10net:512)
#   --train-steps S      timed steps per side (default 10; 3 warm-up)
#   --train-tol X        step 6a bound (default 1e-4)
#   --budget S           seconds for the whole run (default 470)
#   --dry-run            every path at tiny sizes on whatever Vulkan
#                        device the loader finds (lavapipe on a machine
#                        without a GPU; no NVIDIA ICD needed): ops at
#                        batch 2 (--quick), nets at batch 4/4/8, 1 step
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
skip_check=0 skip_vulkan=0 skip_torch=0 skip_train=0 keep_going=0
train_nets=resnet20:128,vgg11:128,cifar10net:512
train_steps=10
train_warmup=3
train_tol=1e-4
budget=470
dry_run=0

die() { echo "gpu.sh: $*" >&2; exit 1; }
args=("$@")
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
        --skip-train) skip_train=1; shift ;;
        --keep-going) keep_going=1; shift ;;
        --train-nets) train_nets=${2:?}; shift 2 ;;
        --train-steps) train_steps=${2:?}; shift 2 ;;
        --train-tol) train_tol=${2:?}; shift 2 ;;
        --budget) budget=${2:?}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done
# dry-run sizes, where the option was not given
if [ "$dry_run" = 1 ]; then
    given=" ${args[*]-} "
    [[ $given == *" --batch "* ]] || batch=2
    [[ $given == *" --reps "* ]] || reps=1
    [[ $given == *" --warmup "* ]] || warmup=0
    [[ $given == *" --train-steps "* ]] || train_steps=1
    [[ $given == *" --train-nets "* ]] || train_nets=resnet20:4,vgg11:4,cifar10net:8
    train_warmup=1
fi
mkdir -p "$outdir" || die "cannot create $outdir"
log=$outdir/gpu.log
: >"$log"
say() { echo "gpu.sh: $*" | tee -a "$log" >&2; }
status=0
# tmo DEFAULT: a step's timeout, DEFAULT cut to what is left of --budget
# (0: no time left)
tmo() {
    local left=$((budget - SECONDS - 5))
    [ "$left" -lt 1 ] && { echo 0; return; }
    [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}

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

if [ "$skip_check" = 0 ] || [ "$skip_vulkan" = 0 ] || [ "$skip_train" = 0 ]; then
    for b in bench_ops check_vk_vs_cpu bench_train; do
        [ -x "$carry/bin/$b" ] ||
            die "$carry/bin/$b missing: run bench/gpu_pack.sh here and carry '$carry'"
    done
    if [ -z "$icd" ]; then
        for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
                 /usr/share/vulkan/icd.d/nvidia_icd.json \
                 /etc/vulkan/icd.d/nvidia_icd.json \
                 /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
            [ -f "$f" ] && { icd=$f; break; }
        done
    fi
    if [ -z "$icd" ] && [ -n "${VK_ICD_FILENAMES:-}" ]; then icd=$VK_ICD_FILENAMES; fi
    if [ -z "$icd" ] && [ "$dry_run" = 1 ]; then
        say "dry run: no NVIDIA ICD json; the loader's default drivers (lavapipe here)"
    else
        [ -n "$icd" ] && [ -f "${icd%%:*}" ] ||
            die "no Vulkan ICD json found (NVIDIA's is usually /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json); pass --icd"
        say "Vulkan ICD: $icd"
        tr -s ' \n' ' ' <"${icd%%:*}" | tee -a "$log" >&2; echo | tee -a "$log" >&2
        # Loader 1.3.239 reads both; VK_DRIVER_FILES is the newer name.
        export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
    fi
    if [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
        export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    fi
    export LP_NUM_THREADS=${LP_NUM_THREADS:-$threads}

    # carry's libraries, the gzipped ones (gpu_pack.sh) unpacked, in a
    # temporary folder removed at exit
    libtmp=$(mktemp -d "${TMPDIR:-/tmp}/sinreq-gpu-lib.XXXXXX") || die "mktemp failed"
    trap 'rm -rf "$libtmp"' EXIT
    for d in lib lib-gl; do
        mkdir -p "$libtmp/$d"
        [ -d "$carry/$d" ] || continue
        cp "$carry/$d"/* "$libtmp/$d"/ 2>/dev/null
        for f in "$libtmp/$d"/*.gz; do
            [ -e "$f" ] || continue
            gzip -d "$f" || die "cannot unpack $f"
        done
    done
    # Library path for OUR binaries only (python/torch keeps the machine's).
    binlib=$libtmp/lib
    if ! in_ldcache libGLdispatch.so.0 && [ -d "$carry/lib-gl" ]; then
        binlib=$binlib:$libtmp/lib-gl
    fi
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$d" ] && binlib=$binlib:$d
    done
    binlib=$binlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    say "LD_LIBRARY_PATH for bench binaries: $binlib"
    missing=$(LD_LIBRARY_PATH=$binlib ldd "$carry/bin/bench_ops" "$carry/bin/check_vk_vs_cpu" "$carry/bin/bench_train" | grep 'not found' | sort -u)
    [ -z "$missing" ] || die "unresolved libraries: $missing"
    # The ICD's own library must load too (dlopen'ed by the loader).
    icdlib=
    [ -n "$icd" ] && icdlib=$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "${icd%%:*}" | head -1)
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
if [ "$skip_check" = 0 ] && [ "$(tmo 300)" = 0 ]; then
    say "check: skipped, no time left (--budget $budget)"; status=2
elif [ "$skip_check" = 0 ]; then
    say "check: Vulkan vs CPU backend (tol $tol)"
    run_bin timeout "$(tmo 300)" "$carry/bin/check_vk_vs_cpu" --verbose --tol "$tol" \
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
[ "$dry_run" = 1 ] && common+=(--quick)

# PyTorch: a python3 that imports torch, and whether it has CUDA. Without
# CUDA the PyTorch CUDA parts are skipped (a dry run uses the CPU instead).
py=
torch_cuda=0
if [ "$skip_torch" = 0 ]; then
    for p in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' 2>/dev/null; then
            py=$p; break
        fi
    done
    if [ -z "$py" ]; then
        say "PyTorch parts skipped: no python3 imports torch"
        skip_torch=1; status=2
    elif "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
        torch_cuda=1
    elif [ "$torch_device" = cuda ]; then
        if [ "$dry_run" = 1 ]; then
            say "PyTorch CUDA part skipped: no CUDA device ($py: torch.cuda.is_available() is False); dry run: PyTorch on the CPU instead"
            torch_device=cpu
        else
            say "PyTorch CUDA part skipped: no CUDA device ($py: torch.cuda.is_available() is False)"
            skip_torch=1; status=2
        fi
    fi
fi

# --- 3. Vulkan op benchmark ------------------------------------------------
if [ "$skip_vulkan" = 0 ] && [ "$(tmo 150)" = 0 ]; then
    say "bench_ops --backend vulkan: skipped, no time left"; status=2
elif [ "$skip_vulkan" = 0 ]; then
    say "bench_ops --backend vulkan"
    t0=$SECONDS
    run_bin timeout "$(tmo 150)" "$carry/bin/bench_ops" --backend vulkan --verbose \
        --threads "$threads" "${devflag[@]}" "${common[@]}" \
        >"$outdir/vulkan.tsv" 2>"$outdir/vulkan.log"
    rc=$?
    cat "$outdir/vulkan.log" >&2
    say "vulkan: exit $rc, $((SECONDS - t0)) s"
    [ "$rc" = 0 ] || status=2
fi

# --- 4. PyTorch op benchmark -------------------------------------------------
if [ "$skip_torch" = 0 ] && [ "$(tmo 120)" = 0 ]; then
    say "bench_ops_torch.py: skipped, no time left"; status=2
elif [ "$skip_torch" = 0 ]; then
    say "bench_ops_torch.py --device $torch_device ($py)"
    t0=$SECONDS
    env PYTHONUNBUFFERED=1 timeout "$(tmo 120)" "$py" bench/bench_ops_torch.py \
        --device "$torch_device" --threads "$threads" "${common[@]}" \
        >"$outdir/torch.tsv" 2>"$outdir/torch.log"
    rc=$?
    cat "$outdir/torch.log" >&2
    say "torch: exit $rc, $((SECONDS - t0)) s"
    [ "$rc" = 0 ] || status=2
fi

# --- 5. op table -------------------------------------------------------------
joinpy=$(command -v python3 || echo /usr/bin/python3)
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
vkdev=$(sed -n 's/^bench_ops: backend vulkan on \(.*\); batch.*/\1/p' "$outdir/vulkan.log" 2>/dev/null | head -1)
if [ "$skip_torch" = 0 ] && [ "$skip_vulkan" = 0 ] &&
   [ -s "$outdir/torch.tsv" ] && [ -s "$outdir/vulkan.tsv" ]; then
    "$joinpy" bench/join.py --base "$outdir/torch.tsv" --cmp "$outdir/vulkan.tsv" \
        --title "conv2d GFLOP/s, $(date -u '+%Y-%m-%d'): Vulkan on ${vkdev:-?} vs PyTorch ($torch_device${gpu:+, $gpu}), batch $batch, median of $reps" \
        --out "$outdir/table.txt" --tsv "$outdir/joined.tsv" || status=2
fi

# --- 6. whole training step ----------------------------------------------------
if [ "$skip_train" = 0 ]; then
    train=$outdir/train.tsv
    printf 'side\tnet\tbatch\tthreads\tquant\tmedian_ms\timages_per_s\tmin_ms\tloss\n' >"$train"
    vkenv=()
    [ -n "$vk_device" ] && vkenv=(SINREQ_VK_DEVICE="$vk_device")
    # 6a. the same 4 steps at batch 4 on Vulkan and on the CPU backend
    : >"$outdir/train_check.tsv"
    for spec in ${train_nets//,/ }; do
        net=${spec%%:*}
        [ "$(tmo 60)" = 0 ] && { say "train check $net: skipped, no time left"; status=2; continue; }
        for be in vulkan cpu; do
            run_bin env "${vkenv[@]}" timeout "$(tmo 60)" "$carry/bin/bench_train" \
                --backend "$be" --net "$net" --batch 4 --warmup 0 --steps 4 \
                --threads "$threads" --no-header >>"$outdir/train_check.tsv" \
                2>>"$outdir/train.log" || { say "train check $net $be: exit $?"; status=2; }
        done
    done
    if ! "$joinpy" - "$outdir/train_check.tsv" "$train_tol" <<'PY' 2>&1 | tee -a "$log" >&2
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
tol, loss, bad = float(sys.argv[2]), {}, 0
for r in rows:
    loss.setdefault(r[1], {})[r[0]] = float(r[8])
for net, d in loss.items():
    if len(d) < 2:
        print("train check %s: a side is missing (%s)" % (net, ", ".join(d)))
        bad = 1
        continue
    a, b = d["sinreq-cpu"], d["sinreq-vulkan"]
    rel = abs(a - b) / max(1.0, abs(a))
    ok = rel <= tol
    bad |= not ok
    print("train check %-10s loss after 4 steps: cpu %.8g vulkan %.8g, "
          "relative difference %.1e: %s" % (net, a, b, rel,
                                            "ok" if ok else "FAILED"))
sys.exit(1 if bad or not loss else 0)
PY
    then
        say "train check FAILED (tol $train_tol)"
        status=2
        [ "$keep_going" = 1 ] || exit 2
    fi
    # 6b. images/s
    for spec in ${train_nets//,/ }; do
        net=${spec%%:*} b=${spec##*:}
        steps=(--warmup "$train_warmup" --steps "$train_steps" --no-header)
        if [ "$skip_vulkan" = 0 ]; then
            if [ "$(tmo 90)" = 0 ]; then
                say "train $net vulkan: skipped, no time left"; status=2
            else
                run_bin env "${vkenv[@]}" timeout "$(tmo 90)" "$carry/bin/bench_train" \
                    --backend vulkan --net "$net" --batch "$b" "${steps[@]}" \
                    >>"$train" 2>>"$outdir/train.log" ||
                    { say "train $net vulkan: exit $?"; status=2; }
            fi
        fi
        [ "$skip_torch" = 0 ] || continue
        modes=(eager)
        [ "$torch_device" = cuda ] && modes+=(graph)
        for mode in "${modes[@]}"; do
            if [ "$(tmo 90)" = 0 ]; then
                say "train $net torch $mode: skipped, no time left"; status=2; continue
            fi
            extra=()
            [ "$mode" = graph ] && extra=(--cuda-graph)
            env PYTHONUNBUFFERED=1 timeout "$(tmo 90)" "$py" bench/bench_train_torch.py \
                --device "$torch_device" --net "$net" --batch "$b" \
                --threads "$threads" "${steps[@]}" "${extra[@]}" >>"$train" \
                2>>"$outdir/train.log"
            rc=$?
            if [ "$rc" = 3 ]; then
                say "train $net torch CUDA graph: capture failed (train.log); n/a"
            elif [ "$rc" != 0 ]; then
                say "train $net torch $mode: exit $rc"; status=2
            fi
        done
    done
    [ "$torch_device" = cuda ] || say "train: PyTorch CUDA graphs skipped (no CUDA)"
    # 6c. table
    "$joinpy" - "$train" "$outdir/train_table.txt" \
        "whole training step, images/s, $(date -u '+%Y-%m-%d'): sinreq Vulkan on ${vkdev:-?} vs $([ "$skip_torch" = 0 ] && echo "PyTorch ($torch_device${gpu:+, $gpu}; float32, TF32 off)" || echo "PyTorch (skipped)"), median of $train_steps steps" <<'PY' || status=2
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
ips = {}
for r in rows:
    if len(r) < 9:
        continue
    side = r[0]
    kind = ("sinreq" if side.startswith("sinreq-")
            else "graph" if "cudagraph" in side else "eager")
    ips[(r[1], int(r[2]), kind)] = float(r[6])
nets = []
for net, b, _ in ips:
    if (net, b) not in nets:
        nets.append((net, b))
def f(v):
    return "%10.1f" % v if v is not None else "%10s" % "n/a"
def q(a, b):
    return "%8.2f" % (a / b) if a is not None and b else "%8s" % "n/a"
out = [sys.argv[3], "",
       "%-11s %5s %10s %10s %10s %8s %8s" % ("net", "batch", "sinreq", "torch", "torch-graph",
                                        "vs eager", "vs graph")]
for net, b in nets:
    s, e, g = (ips.get((net, b, k)) for k in ("sinreq", "eager", "graph"))
    out.append("%-11s %5d %s %s %s %s %s" % (net, b, f(s), f(e), f(g), q(s, e), q(s, g)))
text = "\n".join(out) + "\n"
open(sys.argv[2], "w").write(text)
sys.stderr.write(text)
sys.exit(0 if nets else 1)
PY
fi
say "results in $outdir/ (exit $status)"
exit "$status"
