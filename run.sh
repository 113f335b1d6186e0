#!/usr/bin/env bash
# The main job, on the default data (the CIFAR-10 copy shipped beside the
# checkout in ../shared/data, or the official archive when SINREQ_CIFAR10
# points at it or data_prep/fetch_cifar10.sh has fetched it):
#   1. install what is missing and build;
#   2. convert CIFAR-10 to the HDF5 layout (once);
#   3. jobs/main_job.sh: train cifar10net in full precision, fine-tune it at
#      4 bits with WRPN without and with SinReQ, print the three test
#      accuracies and plot conv2's weight histograms.
# Epochs: SINREQ_FP_EPOCHS (default 15), SINREQ_FT_EPOCHS (default 3).
# Backend: SINREQ_BACKEND=cpu|vulkan (default cpu).
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
bash "$root/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)"

work="$root/build/main-job"
mkdir -p "$work"
data="$work/cifar10.h5"
if [ ! -f "$data" ]; then
    src="${SINREQ_CIFAR10:-}"
    [ -n "$src" ] || for c in "$root/../shared/data/cifar10-jpeg.tar.gz" \
                              "$root/data/cifar-10-binary.tar.gz"; do
        [ -f "$c" ] && src="$c" && break
    done
    if [ -z "$src" ]; then
        echo "run.sh: no CIFAR-10 found; fetching the official archive" >&2
        mkdir -p "$root/data"
        bash "$root/data_prep/fetch_cifar10.sh" "$root/data"
        src="$root/data/cifar-10-binary.tar.gz"
    fi
    case "$src" in
    *jpeg*)  # image folders in a tarball: unpack, convert at 32x32
        rm -rf "$work/cifar10-jpeg" && mkdir -p "$work/cifar10-jpeg"
        tar xzf "$src" -C "$work/cifar10-jpeg"
        "$root/build/data_prep/sinreq-prep" images "$work/cifar10-jpeg" --size 32 -o "$data"
        rm -rf "$work/cifar10-jpeg" ;;
    *)
        "$root/build/data_prep/sinreq-prep" cifar10 "$src" -o "$data" ;;
    esac
fi

export LP_NUM_THREADS=${LP_NUM_THREADS:-$(nproc)}
SINREQ_BIN_DIR=$root/build/src/cli bash "$root/jobs/main_job.sh" "$data" "$work"
