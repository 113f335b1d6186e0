# CIFAR-10 binary: small files in the official format, converted from a
# directory and from a tar.gz; compared value by value; bad inputs.
source "$(dirname "$0")/lib.sh"

$PY "$SRC/gen.py" cifar in/cifar-10-batches-bin 7 6 1
"$PREP" cifar10 in -o out.h5 --quiet
"$DUMP" out.h5 shape train | grep -qx "35 3 32 32" || fail "train shape"
"$DUMP" out.h5 shape test | grep -qx "6 3 32 32" || fail "test shape"
"$DUMP" out.h5 images train 0 35 got_train.raw
"$DUMP" out.h5 images test 0 6 got_test.raw
"$DUMP" out.h5 labels train > got_train.labels
"$DUMP" out.h5 labels test > got_test.labels
$PY "$SRC/gen.py" compare got_train.raw expect_train.raw
$PY "$SRC/gen.py" compare got_test.raw expect_test.raw
cmp got_train.labels expect_train.labels || fail "train labels"
cmp got_test.labels expect_test.labels || fail "test labels"
"$DUMP" out.h5 classes | head -2 | tr '\n' ' ' | grep -q "^plane car " \
    || fail "class names from batches.meta.txt"
pass "directory: 35 + 6 images and labels identical"

# The official archive layout; md5 is checked unless --skip-md5.
tar czf cifar-10-binary.tar.gz -C in cifar-10-batches-bin
expect_exit 1 "md5 is [0-9a-f]{32}, but the official" \
    "$PREP" cifar10 cifar-10-binary.tar.gz -o tar.h5
[ ! -e tar.h5 ] || fail "output written despite md5 mismatch"
"$PREP" cifar10 cifar-10-binary.tar.gz -o tar.h5 --skip-md5 --quiet
"$DUMP" tar.h5 images train 0 35 tar_train.raw
cmp tar_train.raw got_train.raw || fail "archive and directory differ"
"$PREP" info tar.h5 | grep -q "source_checksum = md5:$(md5sum cifar-10-binary.tar.gz | cut -c1-32)" \
    || fail "archive md5 not recorded"
pass "archive: same images; md5 checked and recorded"

# Bad inputs: exit 1, the message names the file.
d=in/cifar-10-batches-bin
mv $d/data_batch_3.bin b3
expect_exit 1 "data_batch_3.bin is missing" "$PREP" cifar10 in -o bad.h5
cp b3 $d/data_batch_3.bin
head -c $((7 * 3073 - 100)) b3 > $d/data_batch_3.bin
expect_exit 1 "data_batch_3.bin has 21411 bytes, not a whole number of 3073-byte records" \
    "$PREP" cifar10 in -o bad.h5
# CIFAR-100 records are 3074 bytes (coarse + fine label): wrong record size.
$PY -c "import sys; sys.stdout.buffer.write((bytes([1, 5]) + bytes(3072)) * 7)" > $d/data_batch_3.bin
expect_exit 1 "data_batch_3.bin has 21518 bytes, not a whole number of 3073-byte records" \
    "$PREP" cifar10 in -o bad.h5
cp b3 $d/data_batch_3.bin
printf 'x' | dd of=$d/test_batch.bin bs=1 seek=3073 conv=notrunc 2>/dev/null
expect_exit 1 "test_batch.bin: record 1 has label 120" "$PREP" cifar10 in -o bad.h5
head -c 5000 cifar-10-binary.tar.gz > cut.tar.gz
expect_exit 1 "cut.tar.gz: .*(truncated|damaged)" "$PREP" cifar10 cut.tar.gz -o bad.h5 --skip-md5
[ ! -e bad.h5 ] && [ ! -e bad.h5.tmp ] || fail "bad input left a file behind"
