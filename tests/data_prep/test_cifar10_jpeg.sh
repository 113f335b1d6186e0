# Real data: the CIFAR-10 JPEG copy (lib.sh, cifar10_jpeg_tarball) through
# `images --size 32`:
# 50,000 + 10,000 images, 5,000 / 1,000 per class, pixels = decoded JPEGs.
source "$(dirname "$0")/lib.sh"
TARBALL=$(cifar10_jpeg_tarball)
[ -n "$TARBALL" ] || { echo "$CIFAR10_JPEG_SKIP"; exit 77; }
[ -f "$TARBALL" ] || fail "SR_CIFAR10_JPEG=$TARBALL: no such file"
echo "data: $TARBALL"

# Extracted once into the build tree, next to the work directory.
DATA="$WORK/../cifar10-jpeg"
if [ ! -f "$DATA/.complete" ]; then
    rm -rf "$DATA" && mkdir -p "$DATA"
    tar xzf "$TARBALL" -C "$DATA"
    touch "$DATA/.complete"
fi
start=$(date +%s.%N)
"$PREP" images "$DATA" --size 32 -o c.h5 > summary.txt
end=$(date +%s.%N)
cat summary.txt
echo "conversion took $(echo "$end - $start" | bc 2>/dev/null || echo "?") s"
"$PREP" info c.h5 > info.txt
cat info.txt
grep -Eq "^  /train +50000 images .*\[50000\]\[3\]\[32\]\[32\]" info.txt || fail "train count/shape"
grep -Eq "^  /test +10000 images .*\[10000\]\[3\]\[32\]\[32\]" info.txt || fail "test count/shape"
[ "$(grep -Ec '^  [0-9] +[a-z]+ +5000 +1000$' info.txt)" -eq 10 ] || fail "5000/1000 per class"
"$DUMP" c.h5 classes | tr '\n' ' ' | \
    grep -qx "airplane automobile bird cat deer dog frog horse ship truck " || fail "class order"
grep -q "verify: OK" info.txt || fail "verify"

# Round trip: decode some JPEGs independently (PIL) and compare exactly
# (32x32 stays 32x32: no resampling, the pixels are libjpeg's output).
PIL=$(find_python PIL numpy) || { echo "SKIP: pixel check needs python3-pil + numpy"; exit 77; }
"$DUMP" c.h5 images train 0 50000 train.raw
"$DUMP" c.h5 images test 0 10000 test.raw
"$DUMP" c.h5 labels train > train.labels
$PIL - "$DATA" <<'PY'
import numpy as np, random, sys
from PIL import Image
root = sys.argv[1]
classes = "airplane automobile bird cat deer dog frog horse ship truck".split()
data = {s: np.fromfile(s + ".raw", dtype=np.uint8).reshape(-1, 3, 32, 32)
        for s in ("train", "test")}
labels = np.loadtxt("train.labels", dtype=int)
assert (labels == np.repeat(np.arange(10), 5000)).all(), "train labels/order"
rnd = random.Random(1)
checked = 0
for s, per in (("train", 5000), ("test", 1000)):
    for _ in range(100):
        c, i = rnd.randrange(10), rnd.randrange(per)
        ref = np.asarray(Image.open("%s/%s/%s/%04d.jpg" % (root, s, classes[c], i))
                         .convert("RGB")).transpose(2, 0, 1)
        got = data[s][c * per + i]
        assert (ref == got).all(), (s, c, i, np.abs(ref.astype(int) - got).max())
        checked += 1
print("pixel round trip: %d JPEGs decoded by PIL equal the stored images" % checked)
PY
