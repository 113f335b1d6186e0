# --force over a finished run: the old run's checkpoints and files go, so
# the new run's first checkpoint is kept (not pruned in favour of the old
# run's later steps) and --resume auto continues the new run, ending
# bit-identical to the new run done in one go.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
RA="$R --checkpoint-interval 3 --hist-epochs 0,last"
RB="$RA --lr 0.03"
$RB --out fullB || { echo "reference run failed"; exit 2; }
$RA --out run || fail "old run rc $?"
ls run/ckpt/ckpt-e0003-s000000024.h5 > /dev/null || fail "old run: no final checkpoint"
$RB --out run --force --max-steps 5 || fail "--force run rc $?"
left=$(ls run/ckpt | tr '\n' ' ')
[ "$left" = "ckpt-e0001-s000000003.h5 ckpt-e0001-s000000005.h5 " ] \
    && ok "after --force: ckpt/ holds $left" || fail "after --force: ckpt/ holds: $left"
groups=$("$PY" -c 'import h5py, sys; print(" ".join(sorted(h5py.File(sys.argv[1], "r"))))' run/histograms.h5)
[ "$groups" = "epoch_0 epoch_1" ] || fail "histograms.h5 holds $groups"
grep -q "^epoch 3/3" run/train.log && fail "the old run's lines in train.log"
[ "$(tail -n +2 run/steps.tsv | wc -l)" = 5 ] || fail "steps.tsv: $(wc -l < run/steps.tsv) lines"
$RB --out run --resume auto || fail "resume rc $?"
grep -q "resuming from run/ckpt/ckpt-e0001-s000000005.h5" run/train.log \
    && ok "--resume auto continued the new run" \
    || fail "did not resume the new run: $(grep -i resum run/train.log)"
same fullB run "--force + --max-steps 5 + --resume auto"
# --force while a --resume auto finds nothing valid either starts over
$RB --out run --force || fail "second --force run rc $?"
[ "$(ls run/ckpt | tr '\n' ' ')" = "ckpt-e0003-s000000018.h5 ckpt-e0003-s000000021.h5 ckpt-e0003-s000000024.h5 " ] \
    || fail "after a whole --force run: $(ls run/ckpt)"
finish
