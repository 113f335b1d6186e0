# The reader on damaged files (never a crash: exit 1 with file and dataset
# path), and the writer's no-overwrite / atomic-replace rules.
source "$(dirname "$0")/lib.sh"

$PY "$SRC/gen.py" cifar in 400 50 3 nometa     # 2000 random images
"$PREP" cifar10 in -o good.h5 --quiet
"$PREP" info good.h5 | grep -q "verify: OK" || fail "info on a good file"
h5dump -H good.h5 >/dev/null 2>&1 || ! command -v h5dump >/dev/null || fail "h5dump cannot read it"

# A flipped byte in the middle of a stored chunk: Fletcher32 catches it.
cp good.h5 flip.h5
set -- $("$MANGLE" flip.h5 chunk /train/images 2)
$PY "$SRC/gen.py" flip flip.h5 $(( $1 + $2 / 2 )) 4
expect_exit 1 "flip.h5: cannot read /train/images \[.*Fletcher32 checksum mismatch" \
    "$PREP" info flip.h5
expect_exit 1 "Fletcher32" "$DUMP" flip.h5 images train 682 1 x.raw
"$DUMP" flip.h5 images train 0 100 ok.raw || fail "an undamaged chunk became unreadable"

cp good.h5 nolab.h5 && "$MANGLE" nolab.h5 delete /train/labels
expect_exit 1 "nolab.h5: dataset /train/labels is missing" "$PREP" info nolab.h5
cp good.h5 nocls.h5 && "$MANGLE" nocls.h5 delete /classes
expect_exit 1 "nocls.h5: dataset /classes is missing" "$PREP" info nocls.h5
cp good.h5 ver.h5 && "$MANGLE" ver.h5 set-version 99
expect_exit 1 "ver.h5: format_version is 99; this build reads version 1" "$PREP" info ver.h5
cp good.h5 grow.h5 && "$MANGLE" grow.h5 grow /test/labels
expect_exit 1 "grow.h5: /test/labels has 51 entries but /test/images has 50" "$PREP" info grow.h5
cp good.h5 shape.h5 && "$MANGLE" shape.h5 reshape test
expect_exit 1 "shape.h5: /test/images are 3x33x32 but /train/images are 3x32x32" "$PREP" info shape.h5
head -c $(( $(stat -c %s good.h5) / 2 )) good.h5 > half.h5
expect_exit 1 "half.h5: .*truncated" "$PREP" info half.h5
head -c 1000 good.h5 > tiny.h5
expect_exit 1 "tiny.h5: .*truncated" "$PREP" info tiny.h5
echo "hello" > text.h5
expect_exit 1 "text.h5: not an HDF5 file" "$PREP" info text.h5
h5_other=other.h5
"$MANGLE" good.h5 chunk /train/images 0 >/dev/null    # (helper sanity)
cp good.h5 $h5_other && "$MANGLE" $h5_other delete /train && "$MANGLE" $h5_other delete /test
expect_exit 1 "other.h5: no splits" "$PREP" info $h5_other
pass "damaged files reported"

# An existing output is never overwritten without --force.
before=$(md5sum good.h5 | cut -d' ' -f1)
$PY "$SRC/gen.py" cifar in2 3 2 9 nometa
expect_exit 1 "good.h5 exists; not overwriting it \(use --force" "$PREP" cifar10 in2 -o good.h5
[ "$(md5sum good.h5 | cut -d' ' -f1)" = "$before" ] || fail "old file changed"
[ ! -e good.h5.tmp ] || fail "temporary file left behind"
"$PREP" cifar10 in2 -o good.h5 --force --quiet
"$DUMP" good.h5 shape train | grep -qx "15 3 32 32" || fail "--force did not replace"
[ ! -e good.h5.tmp ] || fail "temporary file left behind"
pass "no overwrite without --force; --force replaces atomically"
