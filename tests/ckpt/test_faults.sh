# Faults: SIGKILL while a checkpoint is being written (after its fsync,
# before the rename) leaves the previous one valid and --resume auto uses
# it; a truncated and a corrupted newest checkpoint are reported and
# skipped; every resumed run still ends bit-identical to the reference.
. "$(dirname "$0")/lib.sh"
reference

# checkpoints at steps 3 and 6, then a writer killed inside the next write
$R --out w --checkpoint-interval 3 --max-steps 6 || fail "first part rc $?"
SINREQ_TEST_CKPT_SLEEP=30 $R --out w --checkpoint-interval 3 --resume auto &
pid=$!
wait_for "w/ckpt/*.tmp" 1 60 || fail "no temporary checkpoint appeared"
kill -9 $pid; wait $pid 2>/dev/null
ls w/ckpt/*.tmp > /dev/null 2>&1 && ok "killed during the write of $(ls w/ckpt/*.tmp)"
[ "$(ls w/ckpt/ckpt-*.h5 | wc -l)" = 2 ] || fail "checkpoints after the kill: $(ls w/ckpt)"
$R --out w --checkpoint-interval 3 --resume auto || fail "resume rc $?"
grep -q "resuming from w/ckpt/ckpt-e0001-s000000006.h5" w/train.log \
    || fail "did not resume from step 6: $(grep resuming w/train.log)"
ls w/ckpt/*.tmp > /dev/null 2>&1 && fail "stale .tmp left"
same full w "kill during checkpoint write + resume"

# a truncated newest and a corrupted newest checkpoint
for how in truncate corrupt; do
    $R --out $how --checkpoint-interval 3 --max-steps 9 || fail "$how: first part rc $?"
    f=$how/ckpt/ckpt-e0002-s000000009.h5
    [ -e $f ] || fail "$how: $f missing"
    if [ $how = truncate ]; then
        truncate -s $(($(stat -c %s $f) / 2)) $f
    else
        # flip bytes inside the largest dataset (conv2/fc weights)
        "$PY" - "$f" <<'PY'
import sys, h5py
f = sys.argv[1]
h = h5py.File(f, "r")
d = max((h["model"][k] for k in h["model"]), key=lambda d: d.size)
off = d.id.get_offset() if d.id.get_offset() is not None else d.id.get_chunk_info(0).byte_offset
h.close()
with open(f, "r+b") as fp:
    fp.seek(off + 100); b = bytearray(fp.read(8))
    fp.seek(off + 100); fp.write(bytes(x ^ 0x5a for x in b))
PY
    fi
    $R --out $how --checkpoint-interval 3 --resume auto 2> err.txt || fail "$how: resume rc $?"
    grep -q "skipping checkpoint $f" err.txt || fail "$how: not reported on stderr: $(cat err.txt)"
    grep -q "invalid and skipped" $how/train.log || fail "$how: not in train.log"
    grep -q "resuming from $how/ckpt/ckpt-e0001-s000000008.h5" $how/train.log \
        || fail "$how: not resumed from the previous checkpoint"
    grep -i "skipping" err.txt | head -1
    same full $how "$how newest + resume"
done
finish
