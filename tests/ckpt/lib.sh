# Shared by the tests/ckpt scripts: $SINREQ, $MKDS, $PY from CTest.
# A small quantized run (cifar10net, WRPN 4-bit + SinReQ, 3 epochs of 8
# steps) whose final model.h5 the interrupted runs must reproduce bit for
# bit. BACKEND picks the backend (default cpu).
. "$(dirname "$0")/../train/lib.sh"
CK="$(dirname "$0")"
BACKEND=${BACKEND:-cpu}
R="$SINREQ train --batch 32 --lr 0.02 --quiet --hist-epochs= --data data.h5 \
   --quantizer wrpn --bits 4 --sinreq-lambda 1 --lambda-schedule linear-ramp \
   --lr-schedule cosine --epochs 3 --threads 2 --backend $BACKEND"
same() { # same RUN_A RUN_B WHAT: final models and logs identical
    "$PY" "$CK/compare.py" "$1/model.h5" "$2/model.h5" "$1" "$2" > cmp.txt 2>&1 \
        && ok "$3: $(head -1 cmp.txt)" || fail "$3: $(cat cmp.txt)"
}
# wait_for GLOB N SECONDS: until N files match (0: timeout)
wait_for() {
    local i=0
    while [ "$i" -lt $(($3 * 20)) ]; do
        [ "$(ls $1 2>/dev/null | wc -l)" -ge "$2" ] && return 0
        sleep 0.05; i=$((i + 1))
    done
    return 1
}
reference() { "$MKDS" data.h5 --train 256 --test 60 || exit 2; $R --out full || { echo "reference run failed"; exit 2; }; }
