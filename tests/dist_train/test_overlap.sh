# Gradient averaging overlapped with backward, 2 ranks, many buckets
# (--bucket-mb 0.05: about 21 buckets of resnet20's 1.09 MB), resnet20
# with BN, WRPN and SinReQ (the regularizer also writes weight gradients):
#   a) overlap on, captured (one program per backward segment): buckets
#      were started before backward ended (train.log, metrics.jsonl
#      allreduce_early >= 2 per step);
#   b) SINREQ_DIST_OVERLAP=0 (the serial schedule, same buckets): none
#      started early; model.h5, steps.tsv and metrics.jsonl bit-identical
#      to a (the same MPI sums of the same words);
#   c) overlap on, --capture false (ops run one by one, bucket_ready
#      between them): bit-identical to b as well.
# SINREQ_DIST_VERIFY=1: both ranks hold the same averaged gradient.
. "$(dirname "$0")/lib.sh"
# 12 steps (lavapipe: 6, a resnet20 step takes ~1.5 s there)
ntrain=192
[ "$BACKEND" = vulkan ] && ntrain=96
"$MKDS" data.h5 --train $ntrain --test 32 || exit 2
A="--net resnet20 --batch 8 --lr 0.05 --quiet --hist-epochs= --data data.h5 \
   --epochs 1 --threads 1 --backend $BACKEND --quantizer wrpn --bits 4 \
   --sinreq-lambda 1 --bucket-mb 0.05"
export SINREQ_DIST_VERIFY=1
run() { # OUT ENV... -- ARGS...
    local out=$1; shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    mpi 2 env "${envs[@]}" $SINREQ train $A --out "$out" "$@" > "$out.txt" 2>&1 ||
        { fail "$out: rc $?: $(tail -5 "$out.txt")"; finish; }
}
run ovl SINREQ_DIST_OVERLAP=1 --
run serial SINREQ_DIST_OVERLAP=0 --
run imm SINREQ_DIST_OVERLAP=1 -- --capture false
# metrics.jsonl: EPOCHS BUCKETS EARLY of a run
early() {
    "$PY" -c "import json,sys
r=[json.loads(l) for l in open('$1/metrics.jsonl')]
print(len(r), r[-1]['allreduce_buckets'], min(x['allreduce_early'] for x in r))"
}
read -r ne nb ea <<<"$(early ovl)"
echo "overlap: $(grep 'gradient averaging' ovl/train.log)"
[ "$ne" = 1 ] && [ "$nb" -gt 4 ] && ok "$nb buckets" || fail "epochs $ne, buckets $nb"
"$PY" -c "import sys; sys.exit(0 if $ea >= 2 else 1)" &&
    ok "overlap: $ea buckets per step started before backward ended" ||
    fail "overlap: only $ea buckets per step started before backward ended"
grep -q "bucket(s) started before its end$" ovl/train.log ||
    fail "train.log lacks the segment line: $(grep gradient ovl/train.log)"
read -r ne nb es <<<"$(early serial)"
"$PY" -c "import sys; sys.exit(0 if $es == 0 else 1)" &&
    ok "serial: no bucket started early" || fail "serial: $es buckets early"
grep -q "(serial schedule)" serial/train.log || fail "serial: $(grep gradient serial/train.log)"
read -r ne nb ei <<<"$(early imm)"
"$PY" -c "import sys; sys.exit(0 if $ei >= 2 else 1)" &&
    ok "immediate: $ei buckets early" || fail "immediate: $ei buckets early"
same ovl serial "captured overlap == serial"
same imm serial "immediate overlap == serial"
finish
