# Strict parsing: numbers are whole, decimal and in range (never truncated
# or wrapped), YAML keys appear once in one document, lists only where a key
# takes several items, the dataset's num_classes agrees with /classes, and
# a directory or non-HDF5 file gets one plain sentence (no HDF5 stack).
. "$(dirname "$0")/lib.sh"
small_data
B="--data data.h5 --out r --epochs 1"
$T $B --max-steps 1 > /dev/null 2>&1 || fail "a valid run failed"
cp r/model.h5 m.h5 && rm -rf r

# flags of every subcommand
expect_rc 1 "'1e3' is not an integer" $SINREQ eval --model m.h5 --data data.h5 --batch 1e3
expect_rc 1 "--batch: 0 is outside 1..65536" $SINREQ eval --model m.h5 --data data.h5 --batch 0
expect_rc 1 "--threads: -1 is outside 0..1024" $SINREQ eval --model m.h5 --data data.h5 --threads -1
expect_rc 1 "--threads: 100000 is outside 0..1024" $SINREQ eval --model m.h5 --data data.h5 --threads 100000
expect_rc 1 "'4x' is not an integer" $SINREQ eval --model m.h5 --data data.h5 --threads 4x
expect_rc 1 "threads 100000 is outside 0..1024" $T $B --threads 100000
expect_rc 1 "threads -1 is outside 0..1024" $T $B --threads -1
OMP_NUM_THREADS=100000 expect_rc 1 "OMP_NUM_THREADS asks for 100000 threads" $T $B
expect_rc 1 "--width: 99999999999 is outside 1..8" $SINREQ info --net cifar10net --width 99999999999
expect_rc 1 "--bits: '4.5' is not an integer" $SINREQ info --net cifar10net --quantizer dorefa --bits 4.5
expect_rc 1 "--width-mult: 99999999999 is outside" $T $B --width-mult 99999999999
expect_rc 1 "--batch: '1e3' is not an integer" $T $B --batch 1e3
expect_rc 1 "--seed: ' 5' is not an integer" $T $B --seed " 5"
expect_rc 1 "--lr: '0x10' is not a finite number" $T $B --lr 0x10
expect_rc 1 "--lr: 'nan' is not a finite number" $T $B --lr nan
expect_rc 1 "--lr: 1e-400 is outside" $T $B --lr 1e-400
expect_rc 1 "lr_milestones '99999999999'" $T $B --lr-milestones 99999999999
expect_rc 1 "SINREQ_TEST_STEP_SLEEP: 'soon'" env SINREQ_TEST_STEP_SLEEP=soon $T $B
expect_rc 1 "--seed ' -1' is not a non-negative integer" "$PREP" idx . -o p.h5 --seed " -1"
expect_rc 1 "--threads '+4' is not in 1..64" "$PREP" idx . -o p.h5 --threads +4
[ ! -e r ] || fail "a refused start created the run directory"

# YAML
printf 'epochs: 1\nlr: 0.1\nbatch: 32\nlr: 0.2\n' > dup.yaml
expect_rc 1 "dup.yaml:4: key 'lr' appears twice (first at line 2)" $T $B --config dup.yaml
printf 'lr_gamma: 0.5\nlr-gamma: 0.2\n' > dup2.yaml
expect_rc 1 "dup2.yaml:2: key 'lr_gamma' appears twice" $T $B --config dup2.yaml
printf 'epochs: 1\n---\nepochs: 3\n' > two.yaml
expect_rc 1 "two.yaml:2: a second YAML document" $T $B --config two.yaml
printf 'lr: [0.1]\n' > list.yaml
expect_rc 1 "list.yaml:1: lr takes a single value, not a list" $T $B --config list.yaml
printf 'net: {a: 1}\n' > map.yaml
expect_rc 1 "map.yaml:1: net takes a single value, not a mapping" $T $B --config map.yaml
printf 'quantizer: wrpn\nlayer_bits:\n  fc3: 5\n  fc3: 6\n' > lb.yaml
expect_rc 1 "lb.yaml:2: 'fc3' appears twice (lines 3 and 4)" $T $B --config lb.yaml
printf 'data: "data.h5\\0x"\n' > nul.yaml
expect_rc 1 "nul.yaml:1: value contains a NUL byte" $T $B --config nul.yaml
printf '"epochs\\0x": 1\n' > nulkey.yaml
expect_rc 1 "nulkey.yaml:1: keys must be plain names" $T $B --config nulkey.yaml
"$PY" -c 'print("fp_layers: " + "a" * 70000)' > long.yaml
expect_rc 1 "long.yaml:1: value too long" $T $B --config long.yaml
"$PY" -c 'print("lr_milestones: " + "[" * 100000 + "1" + "]" * 100000)' > deep.yaml
expect_rc 1 "deep.yaml:1: nested deeper than 16 levels" timeout 60 $T $B --config deep.yaml
printf 'batch: 1e3\n' > num.yaml
expect_rc 1 "num.yaml:1: batch: '1e3' is not an integer" $T $B --config num.yaml
printf 'lr_milestones: [1, 2]\nhist_epochs: [0, last]\nlayer_bits: {fc3: 5}\nquantizer: wrpn\nmax_steps: 1\n' > lists.yaml
$T $B --config lists.yaml > /dev/null 2> err.txt && ok "lists where a key takes them" \
    || fail "valid lists refused: $(tail -1 err.txt)"
rm -rf r

# the dataset's num_classes attribute
for v in 0 4000000000 5 -3 float missing; do
    cp data.h5 nc_$v.h5
    "$PY" - "nc_$v.h5" "$v" <<'PY' || exit 2
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+"); v = sys.argv[2]
del f.attrs["num_classes"]
if v == "float": f.attrs["num_classes"] = np.float64(10)
elif v == "4000000000": f.attrs["num_classes"] = np.uint64(4000000000)
elif v != "missing": f.attrs["num_classes"] = np.int64(v)
PY
    expect_rc 1 "nc_$v.h5: root attribute num_classes" $SINREQ info nc_$v.h5
    expect_rc 1 "nc_$v.h5: root attribute num_classes" $SINREQ eval --model m.h5 --data nc_$v.h5
    expect_rc 1 "nc_$v.h5: root attribute num_classes" "$PREP" info nc_$v.h5
done
expect_rc 1 "num_classes is 5 but /classes names 10 classes" $T --data nc_5.h5 --out r --epochs 1
# labels beyond the classes the file declares
"$PY" - <<'PY' || exit 2
import h5py, shutil
shutil.copy("data.h5", "lab.h5")
with h5py.File("lab.h5", "r+") as f:
    f["test/labels"][3] = 12
PY
expect_rc 1 "lab.h5: /test/labels\[3\] = 12 is not below num_classes (10)" $SINREQ eval --model m.h5 --data lab.h5

# info describes only a model eval could load
"$PY" - <<'PY' || exit 2
import h5py, shutil
shutil.copy("m.h5", "mq.h5")
with h5py.File("mq.h5", "r+") as f:
    f.attrs["quantizer"] = "ternary"
shutil.copy("m.h5", "mt.h5")
with h5py.File("mt.h5", "r+") as f:
    w = f["model/fc3.weight"][()]
    del f["model/fc3.weight"]
    f["model/fc3.weight"] = w.T.copy()
PY
expect_rc 1 "mq.h5: unknown quantizer 'ternary'" $SINREQ info mq.h5
expect_rc 1 "mt.h5: /model/fc3.weight has shape 84x10" $SINREQ info mt.h5
expect_rc 0 "" $SINREQ info m.h5
grep -q "parameters:" out.txt || fail "info m.h5 printed no parameter count"

# not a file, not HDF5: one sentence, no HDF5 error stack
mkdir adir && echo "text" > text.h5
expect_rc 1 "adir: is a directory, not a file" $SINREQ info adir
expect_rc 1 "adir: is a directory, not a file" $SINREQ eval --model adir --data data.h5
expect_rc 1 "adir: is a directory, not a file" $SINREQ export --model adir --out e.h5
expect_rc 1 "text.h5: not an HDF5 file" $SINREQ info text.h5
for c in "info adir" "info text.h5" "eval --model adir --data data.h5" \
         "eval --model m.h5 --data adir" "info /dev/null"; do
    $SINREQ $c > /dev/null 2> err.txt
    if grep -q 'HDF5-DIAG\|errno =\|H5F' err.txt || [ "$(wc -l < err.txt)" -gt 2 ]; then
        fail "sinreq $c: raw HDF5 output: $(head -3 err.txt)"
    else
        ok "sinreq $c: plain message"
    fi
done
finish
