# --resume auto falls back when the newest checkpoint fails at any point of
# loading, not only in the pre-check (open, every dataset's checksum, the
# config): one flipped bit in the name of a /progress attribute (stored in
# a heap without a checksum of its own) passes the pre-check and fails the
# load; a NaN written with h5py (valid checksums) fails the value checks.
# Each skipped checkpoint is named with its reason on stderr and in
# train.log, the next older one is tried, and the resumed run ends
# bit-identical to the uninterrupted one. When none loads: exit 1 and
# nothing overwritten.
. "$(dirname "$0")/lib.sh"
reference
# flip_name FILE: flip the low bit of the first byte of "epoch_complete"
flip_name() {
    "$PY" - "$1" <<'PY'
import sys, h5py
p = sys.argv[1]
data = open(p, "rb").read()
off = data.find(b"epoch_complete")
assert off > 0 and data.count(b"epoch_complete") == 1, "attribute name not found once"
with open(p, "r+b") as f:
    f.seek(off); f.write(bytes([data[off] ^ 1]))
# the pre-check still passes: the file opens, every dataset reads
# (Fletcher32), the config is there; the load does not
h = h5py.File(p, "r")
h.visititems(lambda n, o: o[()] if isinstance(o, h5py.Dataset) else None)
assert "out:" in h.attrs["config"]
try:
    dict(h["progress"].attrs)
except Exception as e:
    print("the /progress attributes no longer read:", type(e).__name__)
else:
    raise SystemExit("the flip did not damage /progress")
PY
}
# ckpt at steps 6, 8 (epoch end) and 9 (keep-last 3)
run() { $R --out $1 --checkpoint-interval 3 "${@:2}"; }
run a --max-steps 9 || fail "a: first part rc $?"
new=a/ckpt/ckpt-e0002-s000000009.h5
flip_name $new || fail "could not damage $new"
run a --resume auto 2> err.txt || fail "a: resume rc $?: $(cat err.txt)"
grep -q "skipping checkpoint $new: .*progress@.* is missing or unreadable" err.txt \
    || fail "a: the skip is not on stderr: $(cat err.txt)"
grep -q "skipped $new: .*progress@.* is missing or unreadable" a/train.log \
    || fail "a: the skip is not in train.log: $(grep -i skip a/train.log)"
grep -q "resuming from a/ckpt/ckpt-e0001-s000000008.h5" a/train.log \
    || fail "a: not resumed from step 8: $(grep resuming a/train.log)"
same full a "newest fails while loading: resumed from the previous one"

# the two newest fail while loading (a bit flip, then a NaN momentum): the
# third is used
run b --max-steps 9 || fail "b: first part rc $?"
flip_name b/ckpt/ckpt-e0002-s000000009.h5 > /dev/null || fail "b: flip"
"$PY" - b/ckpt/ckpt-e0001-s000000008.h5 <<'PY' || fail "b: NaN"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
a = f["momentum/fc1.weight"][()]; a[3, 7] = np.nan; f["momentum/fc1.weight"][...] = a
PY
run b --resume auto 2> err.txt || fail "b: resume rc $?: $(cat err.txt)"
[ "$(grep -c 'skipping checkpoint' err.txt)" = 2 ] || fail "b: two skips expected: $(cat err.txt)"
grep -q "skipped b/ckpt/ckpt-e0001-s000000008.h5: .*momentum/fc1.weight has a non-finite value nan at element 1207" \
    b/train.log || fail "b: the NaN skip is not in train.log: $(grep -i skip b/train.log)"
grep -q "resuming from b/ckpt/ckpt-e0001-s000000006.h5" b/train.log \
    || fail "b: not resumed from step 6: $(grep resuming b/train.log)"
same full b "two newest fail while loading: resumed from the third"

# none loads: exit 1, the run directory as it was
run c --max-steps 9 || fail "c: first part rc $?"
for f in c/ckpt/*.h5; do flip_name $f > /dev/null || fail "c: flip $f"; done
cp c/steps.tsv steps.before
expect_rc 1 "none of the 3 checkpoint(s) in c/ckpt loads" run c --resume auto
[ "$(grep -c 'skipping checkpoint' err.txt)" = 3 ] || fail "c: three skips expected: $(cat err.txt)"
cmp -s steps.before c/steps.tsv && ok "c: steps.tsv untouched" || fail "c: steps.tsv changed"
[ "$(ls c/ckpt | wc -l)" = 3 ] || fail "c: checkpoints changed: $(ls c/ckpt)"
finish
