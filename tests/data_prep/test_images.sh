# Image folders: class order, file order, PNG (RGB and gray) exact at the
# same size, resize + crop against the Python reference, threads, errors.
source "$(dirname "$0")/lib.sh"

$PY "$SRC/gen.py" images root 5
"$PREP" images root --size 8 -o im.h5 --threads 2 2>err.txt >out.txt
grep -q "skipped 1 files" err.txt || fail "non-image file not reported"
"$DUMP" im.h5 classes | tr '\n' ' ' | grep -qx "a_cls b_cls c_cls " || fail "sorted classes"
"$DUMP" im.h5 shape train | grep -qx "9 3 8 8" || fail "train shape"
"$DUMP" im.h5 shape test | grep -qx "3 3 8 8" || fail "test shape"
for s in "train 9" "test 3"; do
    set -- $s
    "$DUMP" im.h5 images $1 0 $2 got_$1.raw
    "$DUMP" im.h5 labels $1 > got_$1.labels
    cmp got_$1.labels expect_$1.labels || fail "$1 labels/order"
    # 8x8 images are exact; resized ones within 1 of the float64 reference.
    $PY "$SRC/gen.py" compare got_$1.raw expect_$1.raw 1
done
pass "labels from sorted class names, files in name order, pixels match"

"$PREP" images root --size 8 -o im1.h5 --threads 1 --quiet
"$DUMP" im1.h5 images train 0 9 t1.raw
cmp t1.raw got_train.raw || fail "1 thread and 2 threads differ"
pass "deterministic across thread counts"

# --resize: shorter side to 12, centre 8x8 crop (checked against reference)
"$PREP" images root --size 8 --resize 12 -o rs.h5 --quiet
"$DUMP" rs.h5 shape train | grep -qx "9 3 8 8" || fail "resize shape"

# Errors: a test class unknown to train/, a corrupt JPEG, a truncated PNG.
mkdir -p root/test/zzz && cp root/test/a_cls/img01.png root/test/zzz/
expect_exit 1 "class \"zzz\" is not a directory of .*train" "$PREP" images root --size 8 -o bad.h5
rm -r root/test/zzz
head -c 300 /dev/urandom | { printf '\xff\xd8\xff'; cat; } > root/train/b_cls/broken.jpg
expect_exit 1 "broken.jpg: bad JPEG" "$PREP" images root --size 8 -o bad.h5
rm root/train/b_cls/broken.jpg
head -c 60 root/train/c_cls/img01.png > root/train/c_cls/img00.png
expect_exit 1 "img00.png: bad PNG" "$PREP" images root --size 8 -o bad.h5
rm root/train/c_cls/img00.png
echo "text" > root/train/c_cls/fake.jpg
expect_exit 1 "fake.jpg: not a JPEG or PNG" "$PREP" images root --size 8 -o bad.h5
rm root/train/c_cls/fake.jpg
expect_exit 1 "--resize 4 is below --size 8" "$PREP" images root --size 8 --resize 4 -o bad.h5
expect_exit 1 "no train/ directory" "$PREP" images root/train --size 8 -o bad.h5
[ ! -e bad.h5 ] && [ ! -e bad.h5.tmp ] || fail "bad input left a file behind"

# Real JPEGs (when the CIFAR-10 JPEG copy is here): decoded like PIL.
TARBALL=$(cifar10_jpeg_tarball)
[ -z "$TARBALL" ] || [ -f "$TARBALL" ] || fail "SR_CIFAR10_JPEG=$TARBALL: no such file"
PIL=$(find_python PIL numpy) || PIL=""
if [ -n "$TARBALL" ] && [ -n "$PIL" ]; then
    mkdir -p jroot && tar xzf "$TARBALL" -C jroot train/cat/0000.jpg train/cat/0001.jpg \
        train/dog/0000.jpg test/dog/0007.jpg
    "$PREP" images jroot --size 24 --resize 28 -o j.h5 --quiet
    "$DUMP" j.h5 images train 0 3 j.raw
    $PIL - <<'PY'
import numpy as np
from PIL import Image
got = np.fromfile("j.raw", dtype=np.uint8).reshape(3, 3, 24, 24)
for k, f in enumerate(["train/cat/0000.jpg", "train/cat/0001.jpg", "train/dog/0000.jpg"]):
    im = Image.open("jroot/" + f).convert("RGB").resize((28, 28), Image.BILINEAR)
    ref = np.asarray(im)[2:26, 2:26].transpose(2, 0, 1).astype(int)
    d = np.abs(ref - got[k]).max()
    assert d <= 2, (f, d)
    print("jpeg + resize vs PIL:", f, "max diff", d)
PY
else
    echo "note: JPEG-vs-PIL part skipped (${TARBALL:+no python3-pil}${TARBALL:-${CIFAR10_JPEG_SKIP#SKIP: }})"
fi
