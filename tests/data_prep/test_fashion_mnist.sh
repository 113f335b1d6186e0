# Real data: Debian's dataset-fashion-mnist (60,000 + 10,000, 10 classes).
source "$(dirname "$0")/lib.sh"
FM=${SR_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
[ -f "$FM/train-images-idx3-ubyte.gz" ] || { echo "SKIP: $FM missing (apt-get install dataset-fashion-mnist)"; exit 77; }

start=$(date +%s.%N)
"$PREP" idx "$FM" -o fm.h5 > summary.txt
end=$(date +%s.%N)
cat summary.txt
echo "conversion took $(echo "$end - $start" | bc 2>/dev/null || echo "?") s"
"$PREP" info fm.h5 > info.txt
cat info.txt
grep -Eq "^  /train +60000 images .*\[60000\]\[1\]\[28\]\[28\]" info.txt || fail "train count/shape"
grep -Eq "^  /test +10000 images .*\[10000\]\[1\]\[28\]\[28\]" info.txt || fail "test count/shape"
[ "$(grep -Ec '^  [0-9] .* 6000 +1000$' info.txt)" -eq 10 ] || fail "6000/1000 per class"
grep -q "^  0   T-shirt/top" info.txt || fail "Fashion-MNIST class names"
grep -q "verify: OK" info.txt || fail "verify"

# Pixels and labels against a plain gzip decode of the IDX files.
for s in train test; do
    n=$([ $s = train ] && echo 60000 || echo 10000)
    "$DUMP" fm.h5 images $s 0 $n got_$s.raw
    "$DUMP" fm.h5 labels $s > got_$s.labels
done
$PY - "$FM" <<'PY'
import gzip, sys
fm = sys.argv[1]
for s, p in (("train", "train"), ("test", "t10k")):
    img = gzip.open("%s/%s-images-idx3-ubyte.gz" % (fm, p)).read()[16:]
    lab = gzip.open("%s/%s-labels-idx1-ubyte.gz" % (fm, p)).read()[8:]
    assert open("got_%s.raw" % s, "rb").read() == img, s + " images differ"
    got = [int(x) for x in open("got_%s.labels" % s)]
    assert got == list(lab), s + " labels differ"
    print(s, "identical:", len(lab), "images")
PY
