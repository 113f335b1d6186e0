# A diverging run (huge lr) stops with exit 2 and saves no model.
. "$(dirname "$0")/lib.sh"
small_data
expect_rc 2 "non-finite training loss" $T --data data.h5 --out run --epochs 2 --lr 1e30
[ ! -e run/model.h5 ] || fail "model.h5 written for a diverged run"
[ ! -e run/result.json ] || fail "result.json written for a diverged run"
grep -q "non-finite" run/train.log || fail "train.log lacks the error"
# With checkpoints every step: none holds a non-finite value (the check
# refuses to write the bad state), and none is left half-written. The
# weight guard (test_diverge.sh) would stop this run first: off here.
expect_rc 2 "non-finite" $T --data data.h5 --out runc --epochs 2 --lr 1e30 \
    --checkpoint-interval 1 --max-abs-weight 0
ls runc/ckpt/*.tmp > /dev/null 2>&1 && fail "a temporary checkpoint was left"
for f in runc/ckpt/ckpt-*.h5; do
    [ -e "$f" ] || continue
    "$PY" - "$f" <<'PY' || fail "$f holds a non-finite value"
import sys, h5py, numpy as np
h = h5py.File(sys.argv[1], "r")
for g in ("model", "momentum"):
    for k in h[g]:
        assert np.isfinite(h[g][k][()]).all(), (g, k)
PY
done
ok "checkpoints of the diverging run: $(ls runc/ckpt 2>/dev/null | tr '\n' ' ')"
finish
