# Full disk: the run directory on a small tmpfs (6 MiB, 64 inodes) that is
# filled (blocks, and inodes for a file's creation) at chosen moments:
# before the run starts (and before `sinreq export` and a dataset's
# writer), and while the run is held (strace inject signal=STOP) before a
# chosen write: a checkpoint, its creation, histograms.h5, model.h5,
# steps.tsv, metrics.jsonl, train.log, config.yaml. Each must end with
# exit 2 (no crash), a message naming the file and "No space left on
# device", no *.tmp left, the checkpoints written before untouched, and,
# once space is freed, --resume auto must finish bit-identical to the run
# that never failed. Needs root to mount a tmpfs: exit 77 (skip) otherwise.
. "$(dirname "$0")/lib.sh"
# LeakSanitizer cannot run under ptrace (strace): in a sanitizer build the
# traced runs check everything but leaks (the other tests check those)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
command -v strace > /dev/null || { echo "strace is not installed: skipped"; exit 77; }
strace -f -qq -o /dev/null true 2> /dev/null \
    || { echo "strace cannot trace here (ptrace not permitted): skipped"; exit 77; }
mkdir -p mnt
mount -t tmpfs -o size=6m,nr_inodes=64 tmpfs mnt 2> mount.txt \
    || { echo "cannot mount a tmpfs here ($(cat mount.txt)): skipped"; exit 77; }
trap "umount -l '$PWD/mnt' 2> /dev/null" EXIT
RK="$R --checkpoint-interval 3 --hist-epochs 0,2,last"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
$RK --out full || { echo "reference run failed"; exit 2; }

fill_blocks() { cat /dev/zero > mnt/fill 2> /dev/null; }
fill_inodes() {
    local i=0
    while [ $i -lt 100 ] && : 2> /dev/null > mnt/inode$i; do i=$((i + 1)); done
}
free_space() { rm -f mnt/fill mnt/inode*; }
sums() { (cd mnt/run/ckpt 2> /dev/null && md5sum ckpt-*.h5 2> /dev/null); }

# check WHAT RC: the failed run's outcome
check() {
    local what=$1 rc=$2 tmp
    if [ "$rc" != 2 ]; then
        fail "$what: exit $rc, want 2: $(tail -3 err.txt)"
    elif ! grep -q "No space left on device" err.txt; then
        fail "$what: the message lacks the reason: $(cat err.txt)"
    elif ! grep -q "mnt/run" err.txt; then
        fail "$what: the message names no file: $(cat err.txt)"
    else
        ok "$what: exit 2: $(grep -o 'cannot [^;]*' err.txt | head -1)"
    fi
    tmp=$(find mnt/run -name '*.tmp' 2> /dev/null)
    [ -z "$tmp" ] || fail "$what: temporary files left: $tmp"
}

# resumed WHAT: free the space, --resume auto, compare with full
resumed() {
    free_space
    $RK --out mnt/run --resume auto > resume.txt 2>&1 \
        || { fail "$1: resume rc $?: $(tail -2 resume.txt)"; return; }
    same full mnt/run "$1: resumed after freeing space"
}

# 1. full before the run starts (the run directory's creation)
rm -rf mnt/run
fill_blocks; fill_inodes
$RK --out mnt/run > out.txt 2> err.txt
check "full at the start" $?
resumed "full at the start"

# 1b. sinreq export onto the full disk
rm -rf mnt/run
fill_blocks
$SINREQ export --model full/model.h5 --out mnt/export.h5 --allow-float > out.txt 2> err.txt
rc=$?
if [ "$rc" = 2 ] && grep -q "mnt/export.h5.tmp: No space left on device" err.txt; then
    ok "export onto a full disk: exit 2: $(cat err.txt)"
else
    fail "export onto a full disk: exit $rc: $(cat err.txt)"
fi
ls mnt/export.h5* > /dev/null 2>&1 && fail "export left $(ls mnt/export.h5*)"
# a dataset (the dataset writer, as sinreq-prep's): no crash in HDF5's
# exit-time cleanup after the failed flush
"$MKDS" mnt/data.h5 --train 256 --test 60 > out.txt 2> err.txt
rc=$?
if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && grep -q "No space left on device" err.txt; then
    ok "dataset onto a full disk: exit $rc: $(cat err.txt)"
else
    fail "dataset onto a full disk: exit $rc: $(cat err.txt)"
fi
ls mnt/data.h5* > /dev/null 2>&1 && fail "the dataset writer left $(ls mnt/data.h5*)"
free_space

# trace CONFIG: the write, pwrite64, fsync, rename and unlink calls of the main
# thread of a run of CONFIG
trace() {
    rm -rf mnt/run
    strace -f -qq -y -o "trace_$1.txt" -e trace=write,pwrite64,fsync,rename,unlink \
        ${!1} --out mnt/run > /dev/null 2>&1 || { echo "traced run failed"; exit 2; }
    rm -rf mnt/run
}

# hold_point CONFIG REGEX K: "SYSCALL N", the call right before the K-th
# (-1: last) write whose line matches REGEX (N counted per syscall, as
# inject's when= does); PAGE=1: only writes that need a new page count (a
# tmpfs fills page by page: a write into a page the file has cannot fail)
hold_point() {
    awk -v re="$2" -v k="$3" -v page="${PAGE:-0}" '
        NR == 1 { main = $1 }
        $1 != main { next }
        $2 == "---" || $2 == "+++" { next }   # a signal or an exit, no call
        { split($2, a, "("); sc = a[1]; n[sc]++ }
        (sc == "write" || sc == "pwrite64") && match($0, /<[^>]*>/) {
            f = substr($0, RSTART, RLENGTH); sz = $NF + 0
            off = size[f] + 0; size[f] = off + sz
            if ($0 ~ re && !(page && int((off + sz + 4095) / 4096) == int((off + 4095) / 4096))) {
                m++
                if (m == k) { print psc, pn; exit }
                last = psc " " pn
            }
        }
        { psc = sc; pn = n[sc] }
        END { if (k == -1 && last) print last }' "trace_$1.txt"
}

# 2. full at a chosen write: the run is held (SIGSTOP) right after the
# call before it (strace delivers an injected signal as the call returns),
# the disk filled, the run continued. hold_at CONFIG REFERENCE WHAT REGEX K
# INODES: the K-th write matching REGEX in a run of CONFIG; INODES=1: the
# inodes are filled too, so that the file's creation fails
hold_at() {
    local cfg=$1 ref=$2 what=$3 re=$4 k=$5 inodes=$6 sc n pid before i=0
    read -r sc n <<< "$(hold_point "$cfg" "$re" "$k")"
    [ -n "$n" ] || { fail "$what: no write matching $re in the trace"; return; }
    rm -rf mnt/run hold.txt
    strace -f -qq -o hold.txt -e trace="$sc" -e inject="$sc":signal=STOP:when="$n" \
        ${!cfg} --out mnt/run > out.txt 2> err.txt &
    local spid=$!
    while [ $i -lt 600 ] && ! grep -q "stopped by SIGSTOP" hold.txt 2> /dev/null; do
        sleep 0.05; i=$((i + 1))
    done
    pid=$(pgrep -P $spid | head -1)
    if ! grep -q "stopped by SIGSTOP" hold.txt 2> /dev/null || [ -z "$pid" ]; then
        ( kill -9 $spid $pid; wait $spid ) 2> /dev/null
        fail "$what: the run was not held after $sc #$n"
        return
    fi
    before=$(sums)
    fill_blocks
    [ "$inodes" = 1 ] && fill_inodes
    kill -CONT $pid
    wait $spid
    check "$what (held after $sc #$n)" $?
    grep -q "cannot [a-z]* [^ ]*$re" err.txt || fail "$what: the failure was not at $re: $(cat err.txt)"
    [ "$(sums)" = "$before" ] || fail "$what: the earlier checkpoints changed"
    [ -n "$before" ] && ok "$what: earlier checkpoints intact: $(echo "$before" | awk '{print $2}' | tr '\n' ' ')"
    free_space
    ${!cfg} --out mnt/run --resume auto > resume.txt 2>&1 \
        || { fail "$what: resume rc $?: $(tail -2 resume.txt)"; return; }
    same $ref mnt/run "$what: resumed after freeing space"
}
trace RK
hold_at RK full "checkpoint write" 'ckpt-e0001-s000000006\.h5\.tmp' 1 0
hold_at RK full "checkpoint creation" 'ckpt-e0002-s000000012\.h5\.tmp' 1 1
hold_at RK full "histograms.h5 (last epoch)" 'histograms\.h5\.tmp' -1 0
hold_at RK full "model.h5" 'model\.h5\.tmp' 1 0
hold_at RK full "config.yaml" 'config\.yaml\.tmp' 1 1

# 3. the text logs: a longer run (small batches, 8 epochs) whose steps.tsv,
# metrics.jsonl and train.log grow past a page; the disk fills just before
# a write that needs a new page
RT="$R --batch 2 --epochs 8 --checkpoint-interval 6"
$RT --out full_t > /dev/null 2>&1 || { echo "reference run (logs) failed"; exit 2; }
trace RT
PAGE=1 hold_at RT full_t "steps.tsv" 'run/steps\.tsv' 2 0
PAGE=1 hold_at RT full_t "metrics.jsonl" 'run/metrics\.jsonl' 2 0
PAGE=1 hold_at RT full_t "train.log" 'run/train\.log' 2 0
finish
