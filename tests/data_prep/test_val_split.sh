# --val-fraction: sizes, stratification, disjointness, determinism.
source "$(dirname "$0")/lib.sh"

$PY "$SRC/gen.py" cifar in 40 10 2 nometa      # 200 train, 20 per class
"$PREP" cifar10 in -o v.h5 --val-fraction 0.1 --seed 7 --quiet
"$DUMP" v.h5 splits | tr '\n' ' ' | grep -qx "train val test " || fail "splits"
"$DUMP" v.h5 shape train | grep -qx "180 3 32 32" || fail "train size"
"$DUMP" v.h5 shape val | grep -qx "20 3 32 32" || fail "val size"
for s in train val test; do
    n=$("$DUMP" v.h5 shape $s | cut -d' ' -f1)
    "$DUMP" v.h5 images $s 0 "$n" $s.raw
    "$DUMP" v.h5 labels $s > $s.labels
done
$PY "$SRC/gen.py" check-val expect_train train.raw train.labels val.raw val.labels 3072 0.1
cmp test.raw expect_test.raw || fail "test split changed"
"$PREP" info v.h5 --quick | grep -q "val_fraction = 0.1" || fail "val_fraction attribute"
"$PREP" info v.h5 --quick | grep -q "val_seed = 7" || fail "val_seed attribute"

# Same seed -> same split; another seed -> another one.
"$PREP" cifar10 in -o v2.h5 --val-fraction 0.1 --seed 7 --quiet
"$DUMP" v2.h5 images val 0 20 val2.raw
cmp val.raw val2.raw || fail "same seed, different split"
"$PREP" cifar10 in -o v3.h5 --val-fraction 0.1 --seed 8 --quiet
"$DUMP" v3.h5 images val 0 20 val3.raw
! cmp -s val.raw val3.raw || fail "another seed gave the same split"
pass "deterministic per seed"

# Uneven classes round per class: 0.25 of 20 = 5 each.
"$PREP" cifar10 in -o v4.h5 --val-fraction 0.25 --quiet
"$DUMP" v4.h5 shape val | grep -qx "50 3 32 32" || fail "0.25 val size"
"$DUMP" v4.h5 images train 0 150 t4.raw
"$DUMP" v4.h5 images val 0 50 v4.raw
"$DUMP" v4.h5 labels train > t4.labels
"$DUMP" v4.h5 labels val > v4.labels
$PY "$SRC/gen.py" check-val expect_train t4.raw t4.labels v4.raw v4.labels 3072 0.25
