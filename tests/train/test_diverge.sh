# Divergence guard: a loss that explodes but stays finite (100 x the larger
# of ln(classes) and the run's first loss), or weights that leave a sane
# range, stop the run with exit 2 and a message naming the step and the
# value (or the tensor); a resumed run keeps the first loss and stops where
# the uninterrupted one does; a healthy run is not stopped; both checks turn
# off with 0 (flag or YAML key).
LOSS_MSG="above diverge_factor 100 x [0-9.e+]* = [0-9.e+]* (the larger of ln(10 classes) and the run's first loss): training diverged"
. "$(dirname "$0")/lib.sh"
small_data
# lr 100: step 2's loss is ~9e4 but finite; stopped there (the non-finite
# check alone let this run end with exit 0 and a model)
expect_rc 2 "training loss [0-9.e+]* at epoch 1 step 2 (global step 2, lr 100) is $LOSS_MSG" \
    $T --data data.h5 --out run --epochs 2 --lr 100 --max-steps 2
[ ! -e run/model.h5 ] || fail "model.h5 written for a diverged run"
[ ! -e run/result.json ] || fail "result.json written for a diverged run"
grep -q "diverge_factor" run/train.log || fail "train.log lacks the error"
# DoReFa from scratch on cifar10net (no batch norm): the first loss is ~2e4,
# far above 100 x ln(10), and accepted; the next, ~2e7, stops the run
expect_rc 2 "training loss [0-9.e+]* at epoch 1 step 2 (global step 2, lr 0.02) is $LOSS_MSG" \
    $T --data data.h5 --out dz --epochs 2 --quantizer dorefa --bits 2 --max-abs-weight 0
first=$(awk 'NR == 2 {print $3}' dz/steps.tsv)
awk -v f="$first" 'BEGIN {exit !(f > 1000)}' && ok "first loss $first accepted" \
    || fail "first loss $first: expected the DoReFa start above 1000"
# resumed after step 1: the checkpoint keeps the first loss, and the
# resumed run stops at step 2 as the uninterrupted one did
$T --data data.h5 --out dzr --epochs 2 --quantizer dorefa --bits 2 --max-abs-weight 0 \
    --max-steps 1 --checkpoint-interval 1 > out.txt 2>&1 || fail "1 step: rc $?: $(tail -1 out.txt)"
"$PY" - dzr/ckpt/ckpt-e0001-s000000001.h5 "$first" <<'PY' || fail "the checkpoint lacks the first loss"
import sys, h5py
v = h5py.File(sys.argv[1], "r")["metrics"].attrs["first_loss"]
assert abs(v - float(sys.argv[2])) <= 1e-6 * abs(v), (v, sys.argv[2])
PY
expect_rc 2 "training loss [0-9.e+]* at epoch 1 step 2 (global step 2, lr 0.02) is $LOSS_MSG" \
    $T --data data.h5 --out dzr --epochs 2 --quantizer dorefa --bits 2 --max-abs-weight 0 \
    --resume auto
grep "training loss" err.txt | sed 's/.*training loss/training loss/' > resumed.txt
grep "training loss" dz/train.log | sed 's/.*training loss/training loss/' > straight.txt
cmp -s resumed.txt straight.txt && ok "resumed: the same stop as the uninterrupted run" \
    || fail "resumed: $(cat resumed.txt) vs $(cat straight.txt)"
# lr 2 with the loss check off: the weights pass 100 within a few steps
# (checked at every checkpoint); the checkpoints written before are sane
expect_rc 2 "weight [a-z0-9]*\.weight reached .* at epoch 1 step [0-9]* (global step [0-9]*), above max_abs_weight 100" \
    $T --data data.h5 --out runw --epochs 2 --lr 2 --diverge-factor 0 \
    --checkpoint-interval 1
ls runw/ckpt/*.tmp > /dev/null 2>&1 && fail "a temporary checkpoint was left"
n=0
for f in runw/ckpt/ckpt-*.h5; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    "$PY" - "$f" <<'PY' || fail "$f holds a weight above 100"
import sys, h5py, numpy as np
h = h5py.File(sys.argv[1], "r")
for k in h["model"]:
    v = h["model"][k][()]
    assert np.isfinite(v).all() and np.abs(v).max() <= 100, k
PY
done
[ "$n" -ge 1 ] && ok "$n checkpoint(s) before the weight check fired, all sane" \
    || fail "no checkpoint before the weight check fired"
# both off (YAML keys): the same run is not stopped by either guard
printf 'diverge_factor: 0\nmax_abs_weight: 0\n' > off.yaml
$T --config off.yaml --data data.h5 --out runoff --epochs 1 --lr 2 \
    --checkpoint-interval 1 > out.txt 2> err.txt
grep -q "diverge_factor\|max_abs_weight" err.txt \
    && fail "a guard fired although both are off: $(tail -1 err.txt)" \
    || ok "guards off: $(tail -1 err.txt | cut -c1-60)"
# a healthy run with the defaults: exit 0
expect_rc 0 "" $T --data data.h5 --out runok --epochs 2 --checkpoint-interval 2
grep -q "^diverge_factor: 100$" runok/config.yaml && grep -q "^max_abs_weight: 100$" runok/config.yaml \
    && ok "defaults recorded in config.yaml" || fail "config.yaml lacks the guard keys"
# bad values: exit 1 naming the key
expect_rc 1 "diverge_factor must be 0 (off) or >= 1" $T --data data.h5 --out bad --diverge-factor 0.5
expect_rc 1 "max_abs_weight must be" $T --data data.h5 --out bad --max-abs-weight -1
expect_rc 1 "rank_timeout must be" $T --data data.h5 --out bad --rank-timeout -3
finish
