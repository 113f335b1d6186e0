# Bad input: exit 1, a message that says what and where, nothing overwritten.
. "$(dirname "$0")/lib.sh"
small_data
"$MKDS" d28.h5 --size 28 --train 64 --test 10 || exit 2
"$MKDS" d100.h5 --classes 20 --train 64 --test 20 || exit 2
B="--data data.h5 --out r --epochs 1"
expect_rc 1 "unknown network 'lenet'" $T $B --net lenet
expect_rc 1 "unknown quantizer 'ternary'" $T $B --quantizer ternary
expect_rc 1 "bits 17 is outside" $T $B --quantizer dorefa --bits 17
expect_rc 1 "outside 2..16 for wrpn" $T $B --quantizer wrpn --bits 1
expect_rc 1 "layer 'conv9'" $T $B --quantizer wrpn --layer-bits conv9=3
expect_rc 1 "unknown option --frobnicate" $T $B --frobnicate 3
expect_rc 1 "needs a quantizer" $T $B --sinreq-lambda 1
printf 'net: cifar10net\nepochs: 1\nlernrate: 0.1\n' > bad.yaml
expect_rc 1 "bad.yaml:3: unknown key 'lernrate'" $T $B --config bad.yaml
printf 'net: [cifar10net\n' > broken.yaml
expect_rc 1 "broken.yaml:" $T $B --config broken.yaml
expect_rc 1 "3x28x28" $T --data d28.h5 --out r --epochs 1
# the ImageNet-size nets on 32x32 images: the network is named, not the crop
expect_rc 1 "--net: alexnet needs images of at least 224x224" $T $B --net alexnet
expect_rc 1 "resnet18 needs images of at least 224x224.*has 32x32 images" $T $B --net resnet18
[ -e r ] && fail "a refused run created its directory"
expect_rc 1 "has 20 classes but --classes asks for 10" $T --data d100.h5 --out r --classes 10
expect_rc 1 "missing.h5" $T --data missing.h5 --out r
head -c 3000 data.h5 > trunc.h5
expect_rc 1 "trunc.h5" $T --data trunc.h5 --out r
[ ! -e r ] || fail "a failed start created the run directory"
mkdir keep && echo precious > keep/model.h5
expect_rc 1 "exists and is not empty" $T --data data.h5 --out keep
grep -q precious keep/model.h5 || fail "existing run dir was modified"
# a run directory whose parents do not exist yet is made (mkdir -p); one
# under a file is a clear error
$T --data data.h5 --out grid/a/run --epochs 1 > /dev/null 2>&1 && [ -f grid/a/run/result.json ] \
    && ok "--out grid/a/run made its parents" || fail "--out grid/a/run failed"
expect_rc 1 "cannot create run directory keep/model.h5/run" $T --data data.h5 --out keep/model.h5/run --epochs 1
expect_rc 1 "no dataset" $T --out r
expect_rc 1 "unknown backend" $T $B --backend tpu
expect_rc 1 "lr_milestones" $T $B --lr-milestones 75,60
expect_rc 1 "hist_epochs" $T $B --hist-epochs 0,9
expect_rc 1 "unknown lambda_schedule" $T $B --lambda-schedule sawtooth
expect_rc 1 "unknown command" $SINREQ trian
finish
