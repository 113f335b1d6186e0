# IDX (MNIST format), gzipped train and plain t10k, non-square images.
source "$(dirname "$0")/lib.sh"

$PY "$SRC/gen.py" idx in 23 9 5 4 1
"$PREP" idx in -o i.h5 --quiet
"$DUMP" i.h5 shape train | grep -qx "23 1 5 4" || fail "train shape"
"$DUMP" i.h5 shape test | grep -qx "9 1 5 4" || fail "test shape"
for s in "train 23" "test 9"; do
    set -- $s
    "$DUMP" i.h5 images $1 0 $2 got_$1.raw
    "$DUMP" i.h5 labels $1 > got_$1.labels
    $PY "$SRC/gen.py" compare got_$1.raw expect_$1.raw
    cmp got_$1.labels expect_$1.labels || fail "$1 labels"
done
"$DUMP" i.h5 classes | head -1 | grep -qx 0 || fail "digit class names"
"$PREP" idx in -o n.h5 --class-names a,b,c,d,e,f,g,h,i,j --quiet
"$DUMP" n.h5 classes | tr '\n' ' ' | grep -qx "a b c d e f g h i j " || fail "--class-names"
expect_exit 1 "label [0-9] found but only 3 class names" "$PREP" idx in -o m.h5 --class-names a,b,c
pass "idx: gz and plain, values identical"

cp in/train-images-idx3-ubyte.gz full.gz
head -c $(( $(stat -c %s full.gz) - 40 )) full.gz > in/train-images-idx3-ubyte.gz
expect_exit 1 "train-images-idx3-ubyte.gz: .*(truncated|unexpected end)" "$PREP" idx in -o bad.h5
cp full.gz in/train-images-idx3-ubyte.gz
head -c 100 in/t10k-images-idx3-ubyte > cut && mv cut in/t10k-images-idx3-ubyte
expect_exit 1 "t10k-images-idx3-ubyte: header says 9 images of 5x4 .*truncated" "$PREP" idx in -o bad.h5
printf '\x00\x00\x08\x01' > in/t10k-images-idx3-ubyte
expect_exit 1 "not an IDX image file" "$PREP" idx in -o bad.h5
rm in/t10k-labels-idx1-ubyte
expect_exit 1 "t10k-images-idx3-ubyte\(.gz\) is missing|t10k-labels-idx1-ubyte\(.gz\) is missing" "$PREP" idx in -o bad.h5
