# A diverging run (huge lr) stops with exit 2 and saves no model.
. "$(dirname "$0")/lib.sh"
small_data
expect_rc 2 "non-finite training loss" $T --data data.h5 --out run --epochs 2 --lr 1e30
[ ! -e run/model.h5 ] || fail "model.h5 written for a diverged run"
[ ! -e run/result.json ] || fail "result.json written for a diverged run"
grep -q "non-finite" run/train.log || fail "train.log lacks the error"
finish
