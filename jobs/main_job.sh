#!/usr/bin/env bash
# The main job on a CIFAR-10 HDF5 file (run.sh makes one from the default
# data and calls this; an installed copy runs it the same way):
#   1. train cifar10net in full precision;
#   2. fine-tune it at 4 bits with WRPN, without and with SinReQ (lambda 1);
#   3. print the three test accuracies and plot conv2's weight histograms
#      (OUT/wrpn4-lambda1/conv2.png; needs python3-h5py and matplotlib).
#
#   jobs/main_job.sh DATA.h5 OUT_DIR
#
# Environment: SINREQ_FP_EPOCHS (default 15), SINREQ_FT_EPOCHS (default 3),
# SINREQ_BACKEND=cpu|vulkan (default cpu), TRAIN_ARGS (more `sinreq train`
# flags for every run, e.g. "--max-steps 2"), SINREQ_BIN_DIR (where the
# programs are; default: jobs/lib.sh's search).
set -euo pipefail
data=${1:?usage: jobs/main_job.sh DATA.h5 OUT_DIR}
out=${2:?usage: jobs/main_job.sh DATA.h5 OUT_DIR}
[ $# -eq 2 ] || { echo "usage: jobs/main_job.sh DATA.h5 OUT_DIR" >&2; exit 1; }
[ -f "$data" ] || { echo "main_job.sh: $data: no such file" >&2; exit 1; }
source "$(dirname "$0")/lib.sh"
sinreq=$(sr_bin sinreq)
plot=$(sr_bin sinreq-plot)
read -r -a train_args <<< "${TRAIN_ARGS:-}"

mkdir -p "$out"
common=(--net cifar10net --data "$data" --batch 128
        --backend "${SINREQ_BACKEND:-cpu}" --force "${train_args[@]}")
"$sinreq" train "${common[@]}" --out "$out/fp" \
    --epochs "${SINREQ_FP_EPOCHS:-15}" --lr 0.05 --lr-schedule cosine
for lam in 0 1; do
    "$sinreq" train "${common[@]}" --out "$out/wrpn4-lambda$lam" \
        --init "$out/fp/model.h5" --quantizer wrpn --bits 4 \
        --sinreq-lambda "$lam" --epochs "${SINREQ_FT_EPOCHS:-3}" \
        --lr 0.001 --lr-schedule cosine
done

echo
echo "== cifar10net on $(basename "$data") =="
for r in fp wrpn4-lambda0 wrpn4-lambda1; do
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%-16s final test acc %.4f  best %.4f" % (sys.argv[2], r["final_test_acc"], r["best_test_acc"]))' \
        "$out/$r/result.json" "$r"
done
if "$plot" "$out/wrpn4-lambda1" --layer conv2 --out "$out/wrpn4-lambda1/conv2.png"; then
    echo "histograms: $out/wrpn4-lambda1/conv2.png"
else
    echo "main_job.sh: no histogram plot (sinreq-plot failed; it needs python3-h5py and python3-matplotlib)" >&2
fi
