# Network files in the grid scripts: jobs/paper_grid.sh --nets with a
# .yaml entry (dry run: the sbatch lines name the file by its absolute
# path and write OUT/<file name>/; a missing file, a name clash and a bad
# --file-data are refused), and jobs/cifar10net_grid.sh with NET=FILE.yaml
# run for real: the report's rows, and a grid model evaluated with the
# network file gone.
. "$(dirname "$0")/../train/lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PAPER="$ROOT/jobs/paper_grid.sh"
"$MKDS" data.h5 --train 128 --test 60 || exit 2
mkdir -p nets
sed 's/^name: .*/name: mynet/' "$ROOT/nets/cifar10net.yaml" > nets/mynet.yaml
grep -q '^name: mynet' nets/mynet.yaml || fail "nets/cifar10net.yaml has no name: line to rename"

bash "$PAPER" out --cifar10 data.h5 --nets cifar10net,nets/mynet.yaml \
    --bits 4 --quantizers dorefa --dry-run > dry.txt 2> dry.err \
    || fail "dry run rc $?: $(cat dry.err)"
abs="$(pwd)/nets/mynet.yaml"
grep -q -- "--net $abs .*--out $(pwd)/out/mynet/fp\$" dry.txt \
    && ok "the file's full-precision job: --net by absolute path, out/mynet/fp" \
    || fail "no mynet fp job: $(grep mynet dry.txt | head -2)"
[ "$(grep -c -- "--net $abs .*--init $(pwd)/out/mynet/fp/model.h5 .*--out $(pwd)/out/mynet/dorefa4-lambda" dry.txt)" = 2 ] \
    && ok "two fine-tuning jobs from the file's fp model" \
    || fail "fine-tuning jobs: $(grep -c mynet dry.txt)"
grep -q -- "--net cifar10net .*--out $(pwd)/out/cifar10net/fp\$" dry.txt \
    && ok "built-in network beside it" || fail "no cifar10net fp job"
grep -q -- "--net $abs --data [^ ]*data.h5 --batch 128 .*--epochs 90 --lr 0.1 --lr-schedule multistep" dry.txt \
    && ok "the file recipe (90 epochs, lr 0.1, multistep, batch 128)" \
    || fail "recipe: $(grep "mynet/fp" dry.txt)"
# the default list is the built-in networks of the datasets given
bash "$PAPER" out --cifar10 data.h5 --bits 4 --quantizers dorefa --dry-run > def.txt 2>&1 \
    || fail "default dry run rc $?"
[ "$(grep -c -- '--out [^ ]*/fp$' def.txt)" = 3 ] && ! grep -q '/file/' def.txt \
    && ok "default: cifar10net, resnet20, vgg11 only" || fail "default nets: $(grep -- '/fp$' def.txt)"
expect_rc 1 "cannot read network file 'nets/none.yaml'" \
    bash "$PAPER" out --cifar10 data.h5 --nets nets/none.yaml --dry-run
cp nets/mynet.yaml nets/cifar10net.yaml
expect_rc 1 "would both write cifar10net/" \
    bash "$PAPER" out --cifar10 data.h5 --nets cifar10net,nets/cifar10net.yaml --dry-run
expect_rc 1 "unknown network 'file'" bash "$PAPER" out --cifar10 data.h5 --nets file --dry-run
expect_rc 1 "--file-data 'mnist'" \
    bash "$PAPER" out --cifar10 data.h5 --nets nets/mynet.yaml --file-data mnist --dry-run
expect_rc 1 "network nets/mynet.yaml needs --svhn" \
    bash "$PAPER" out --cifar10 data.h5 --nets nets/mynet.yaml --file-data svhn --dry-run

# the one-node grid with a network file, for real
export SINREQ FP_EPOCHS=1 FT_EPOCHS=1 THREADS=1 NET=nets/mynet.yaml
export TRAIN_ARGS="--diverge-factor 0 --max-abs-weight 0"
bash "$ROOT/jobs/cifar10net_grid.sh" data.h5 grid --bits 4 --quantizers wrpn --quiet \
    > report.txt 2> grid.err || fail "grid rc $?: $(tail -3 grid.err)"
grep -q "^Runs: 2 done of 2$" report.txt && grep -qE '^\| wrpn \| 4 \|' report.txt \
    && ok "grid of the network file: report row" || fail "report: $(cat report.txt)"
mv nets/mynet.yaml nets/mynet.away
"$SINREQ" eval --model grid/wrpn4-lambda1/model.h5 --data data.h5 > ev.txt 2> ev.err \
    && grep -q "top-1" ev.txt && ok "a grid model evaluates without its network file" \
    || fail "eval rc: $(cat ev.err)"
finish
