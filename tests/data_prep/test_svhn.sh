# SVHN .mat: X 32x32x3xN (column-major) -> NCHW, y 10 -> label 0.
source "$(dirname "$0")/lib.sh"

mkdir in
for p in "train 13 1" "test 7 2" "extra 5 3"; do
    set -- $p
    $PY "$SRC/gen.py" svhn-part $1 $2 $3
done
SCIPY=$(find_python numpy scipy.io) || SCIPY=""
if [ -n "$SCIPY" ]; then
    # scipy writes train (compressed, like the official files) and test.
    $SCIPY "$SRC/gen.py" savemat train in/train_32x32.mat 13 zlib
    $SCIPY "$SRC/gen.py" savemat test in/test_32x32.mat 7 none
    echo "train/test written by scipy.io.savemat"
else
    "$WRITE_MAT" in/train_32x32.mat train.X.raw 32 32 3 13 train.y.raw zlib
    "$WRITE_MAT" in/test_32x32.mat test.X.raw 32 32 3 7 test.y.raw
    echo "train/test written by libmatio (python3-scipy not installed)"
fi
"$WRITE_MAT" in/extra_32x32.mat extra.X.raw 32 32 3 5 extra.y.raw zlib

"$PREP" svhn in -o s.h5 --quiet
"$DUMP" s.h5 splits | tr '\n' ' ' | grep -qx "train test extra " || fail "splits"
for s in "train 13" "test 7" "extra 5"; do
    set -- $s
    "$DUMP" s.h5 images $1 0 $2 got_$1.raw
    "$DUMP" s.h5 labels $1 > got_$1.labels
    $PY "$SRC/gen.py" compare got_$1.raw expect_$1.raw
    cmp got_$1.labels expect_$1.labels || fail "$1 labels"
done
grep -qx 0 got_train.labels || fail "no digit 0 (y = 10) in the test data"
"$DUMP" s.h5 classes | tr '\n' ' ' | grep -qx "0 1 2 3 4 5 6 7 8 9 " || fail "classes"
pass "train/test/extra identical after transposition; y=10 -> 0"

"$PREP" svhn in -o t.h5 --extra train --quiet
"$DUMP" t.h5 shape train | grep -qx "18 3 32 32" || fail "--extra train size"
"$DUMP" t.h5 images train 0 18 t.raw
cat expect_train.raw expect_extra.raw > te.raw
cmp t.raw te.raw || fail "--extra train content"
"$PREP" svhn in -o k.h5 --extra skip --quiet
"$DUMP" k.h5 splits | tr '\n' ' ' | grep -qx "train test " || fail "--extra skip"
pass "--extra train / skip"

# Bad inputs.
$PY -c "import sys; sys.stdout.buffer.write(bytes([3, 11, 1, 2, 3, 4, 5]))" > bad.y.raw
"$WRITE_MAT" in/test_32x32.mat test.X.raw 32 32 3 7 bad.y.raw
expect_exit 1 "test_32x32.mat: y\(2\) = 11; SVHN labels are 1..10" "$PREP" svhn in -o bad.h5
rm in/test_32x32.mat
expect_exit 1 "test_32x32.mat is missing" "$PREP" svhn in -o bad.h5
head -c 3000 in/train_32x32.mat > in/test_32x32.mat
expect_exit 1 "test_32x32.mat: (no readable|cannot open)" "$PREP" svhn in -o bad.h5
[ ! -e bad.h5 ] || fail "bad input left a file behind"
