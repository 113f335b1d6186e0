# `cmake --install` into a temporary prefix, then the installed main job
# (share/sinreq/jobs/main_job.sh) for 2 steps per run on a tiny synthetic
# dataset, with SINREQ* unset and no build directory on PATH: the installed
# scripts must find the installed programs.
#   test_install.sh CMAKE BUILD_DIR WORK_DIR      (env: MKDS)
set -eu
CMAKE=$1 BUILD=$2 WORK=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
prefix=$WORK/prefix

"$CMAKE" --install "$BUILD" --prefix "$prefix" > install.log ||
    fail "cmake --install failed: $(tail -5 install.log)"
for f in bin/sinreq bin/sinreq-prep bin/sinreq-plot bin/sinreq-report \
         bin/sinreq-onnx bin/sinreq-torch2model \
         share/sinreq/jobs/main_job.sh share/sinreq/jobs/paper_grid.sh \
         share/sinreq/jobs/cifar10net_grid.sh share/sinreq/jobs/train.sbatch \
         share/sinreq/jobs/report.py; do
    [ -x "$prefix/$f" ] || fail "$f not installed as an executable"
done
for f in share/sinreq/jobs/lib.sh share/doc/sinreq/method.md \
         share/doc/sinreq/usage.md share/doc/sinreq/README.md \
         share/sinreq/nets/resnet20.yaml share/sinreq/nets/cifar10net.yaml; do
    [ -f "$prefix/$f" ] || fail "$f not installed"
done
echo "ok: installed files"

# Nothing of the build tree on PATH, no override variables.
unset SINREQ SINREQ_BIN_DIR
export PATH=/usr/local/bin:/usr/bin:/bin
got=$(bash -c 'source "$1/share/sinreq/jobs/lib.sh"; sr_bin sinreq; sr_bin sinreq-plot' _ "$prefix")
[ "$got" = "$prefix/bin/sinreq
$prefix/bin/sinreq-plot" ] || fail "installed lib.sh finds '$got', not $prefix/bin"
"$prefix/bin/sinreq" --help > /dev/null 2>&1 || "$prefix/bin/sinreq" help > /dev/null ||
    fail "installed sinreq does not run"
echo "ok: the installed scripts find $prefix/bin"

"$MKDS" data.h5 --train 256 --test 64 --classes 10 --size 32 > /dev/null
set +e
bash "$prefix/share/sinreq/jobs/main_job.sh" missing.h5 out > bad.log 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "missing.h5: no such file" bad.log ||
    fail "missing data: exit $rc, $(cat bad.log)"

SINREQ_FP_EPOCHS=1 SINREQ_FT_EPOCHS=1 TRAIN_ARGS="--max-steps 2 --threads 1" \
    bash "$prefix/share/sinreq/jobs/main_job.sh" data.h5 out > job.log 2>&1 ||
    { cat job.log >&2; fail "installed main job failed"; }
for r in fp wrpn4-lambda0 wrpn4-lambda1; do
    for f in model.h5 result.json metrics.jsonl; do
        [ -s "out/$r/$f" ] || fail "out/$r/$f missing after the main job"
    done
    grep -Eq "^$r +final test acc [0-9.]+ +best [0-9.]+$" job.log ||
        fail "job.log has no accuracy line for $r"
done
if /usr/bin/python3 -c 'import h5py, matplotlib' 2> /dev/null; then
    head -c 8 out/wrpn4-lambda1/conv2.png | od -c | grep -q "P   N   G" ||
        fail "out/wrpn4-lambda1/conv2.png is not a PNG"
    echo "ok: histogram plot"
else
    echo "note: no python3-h5py/matplotlib in /usr/bin/python3: plot not checked"
fi
echo "ok: installed main job"

# `sinreq report` runs the installed sinreq-report beside it; the main
# job's directories are a one-cell grid (fp, wrpn4-lambda0, wrpn4-lambda1).
"$prefix/bin/sinreq" report out > report.txt 2>&1 || { cat report.txt >&2; fail "installed sinreq report failed"; }
grep -Eq "^\| wrpn \| 4 \|" report.txt || { cat report.txt >&2; fail "report has no wrpn 4-bit row"; }
echo "ok: installed sinreq report"

# `sinreq export --format onnx` runs the installed sinreq-onnx beside it.
if /usr/bin/python3 -c 'import onnx, h5py' 2> /dev/null; then
    "$prefix/bin/sinreq" export --format onnx --model out/wrpn4-lambda1/model.h5 \
        --out q.onnx > onnx.txt 2>&1 || { cat onnx.txt >&2; fail "installed sinreq export --format onnx failed"; }
    /usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))' q.onnx ||
        fail "q.onnx does not pass onnx.checker"
    echo "ok: installed sinreq export --format onnx"
else
    echo "note: no python3-onnx in /usr/bin/python3: ONNX export not checked"
fi
"$prefix/bin/sinreq-torch2model" --help > /dev/null || fail "installed sinreq-torch2model does not run"
