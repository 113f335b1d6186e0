#!/usr/bin/env bash
# The main job, on the default data (the CIFAR-10 copy shipped beside the
# checkout in ../shared/data, or the official archive when SINREQ_CIFAR10
# points at it or data_prep/fetch_cifar10.sh has fetched it):
#   1. install what is missing and build;
#   2. convert CIFAR-10 to the HDF5 layout (once);
#   3. train cifar10net in full precision;
#   4. fine-tune it at 4 bits with WRPN, without and with SinReQ;
#   5. print the three test accuracies and plot conv2's weight histograms.
# Epochs: SINREQ_FP_EPOCHS (default 15), SINREQ_FT_EPOCHS (default 3).
# Backend: SINREQ_BACKEND=cpu|vulkan (default cpu).
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
bash "$root/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)"

bin="$root/build/src/cli"
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

backend=${SINREQ_BACKEND:-cpu}
export LP_NUM_THREADS=${LP_NUM_THREADS:-$(nproc)}
common=(--net cifar10net --data "$data" --batch 128 --backend "$backend" --force)
"$bin/sinreq" train "${common[@]}" --out "$work/fp" \
    --epochs "${SINREQ_FP_EPOCHS:-15}" --lr 0.05 --lr-schedule cosine
for lam in 0 1; do
    "$bin/sinreq" train "${common[@]}" --out "$work/wrpn4-lambda$lam" \
        --init "$work/fp/model.h5" --quantizer wrpn --bits 4 \
        --sinreq-lambda "$lam" --epochs "${SINREQ_FT_EPOCHS:-3}" \
        --lr 0.001 --lr-schedule cosine
done

echo
echo "== cifar10net on CIFAR-10 (JPEG copy: 2-3 points below official) =="
for r in fp wrpn4-lambda0 wrpn4-lambda1; do
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%-16s final test acc %.4f  best %.4f" % (sys.argv[2], r["final_test_acc"], r["best_test_acc"]))' \
        "$work/$r/result.json" "$r"
done
"$bin/sinreq-plot" "$work/wrpn4-lambda1" --layer conv2 --out "$work/wrpn4-lambda1/conv2.png" \
    && echo "histograms: $work/wrpn4-lambda1/conv2.png"
