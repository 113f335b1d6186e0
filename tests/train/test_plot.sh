# sinreq-plot renders a run's histograms to a PNG; bad input exits 1.
. "$(dirname "$0")/lib.sh"
small_data
# DoReFa from scratch on cifar10net (no batch norm) starts at a loss ~1e4:
# the divergence guards (test_diverge.sh) would stop it; the plot is tested
$T --data data.h5 --out run --epochs 2 --quantizer dorefa --bits 3 \
   --sinreq-lambda 5 --lr 0.002 --hist-epochs 0,1,last --diverge-factor 0 --max-abs-weight 0 \
   || fail "train rc $?"
"$PLOT" run --layer fc1 --out fc1.png > out.txt || fail "plot rc $?"
head -c 8 fc1.png | od -c | grep -q "P   N   G" || fail "fc1.png is not a PNG"
"$PLOT" run --list | grep -q "epoch_2" || fail "--list"
expect_rc 1 "no layer 'nope'" "$PLOT" run --layer nope
expect_rc 1 "not a sinreq histogram file" "$PLOT" run/model.h5
finish
