# Kill sweep: SIGKILL at the write, fsync, rename and unlink calls on the
# run directory's files (strace fault injection), then --resume auto; every
# resumed run must end bit-identical to the run that was never killed
# (model.h5 tensors, metrics.jsonl without timings, steps.tsv).
#   phase "fresh":  the kill hits a run started from scratch
#   phase "resume": the kill hits a run resuming from --max-steps 11
# One traced run per phase counts the calls (main thread, files under the
# run directory); SWEEP=all kills at every one of them, SWEEP=sample (the
# default) at a fixed subset: the middle call on each file.
. "$(dirname "$0")/lib.sh"
# LeakSanitizer cannot run under ptrace (strace): in a sanitizer build the
# traced runs check everything but leaks (the other tests check those)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
command -v strace > /dev/null || { echo "strace is not installed: skipped"; exit 77; }
strace -f -qq -o /dev/null true 2> /dev/null \
    || { echo "strace cannot trace here (ptrace not permitted): skipped"; exit 77; }
SWEEP=${SWEEP:-sample}
# histograms at epochs 0, 2 and 3 and step checkpoints: every kind of file
RK="$R --checkpoint-interval 3 --hist-epochs 0,2,last"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
$RK --out full || { echo "reference run failed"; exit 2; }
$RK --out part --max-steps 11 || { echo "partial run failed"; exit 2; }
SYSCALLS=write,pwrite64,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat
passed=0 failed=0

# points PHASE: "syscall index file" of every traced call on a run/ file,
# in order (index: per syscall, in the main thread, as inject's when=
# counts; file: the path with its numbers as #)
points() {
    rm -rf run
    [ "$1" = resume ] && cp -a part run
    strace -f -qq -y -o trace.txt -e trace=$SYSCALLS \
        $RK --out run $([ "$1" = resume ] && echo --resume auto) < /dev/null > /dev/null 2>&1 \
        || { echo "traced $1 run failed"; exit 2; }
    # the main thread: its id is the process id, the smallest in the trace
    # (the first line may come from a loader or OpenMP thread)
    main=$(awk 'NR == 1 || $1 < m { m = $1 } END { print m }' trace.txt)
    awk -v main="$main" '$1 == main { split($2, a, "("); n[a[1]]++
                      if ($0 !~ /[<"]run[\/>"]|\/run[\/>]/) next
                      if (match($0, /<[^>]*>/)) f = substr($0, RSTART + 1, RLENGTH - 2)
                      else { match($0, /"[^"]*"/); f = substr($0, RSTART + 1, RLENGTH - 2) }
                      sub(/.*\/run/, "run", f); gsub(/[0-9]+/, "#", f)
                      print a[1], n[a[1]], f }' trace.txt > "points_$1.txt"
}

# sample PHASE: the points to kill at; SWEEP=sample: the middle call on
# each file (a fixed subset that covers every file)
sample() {
    if [ "$SWEEP" = all ]; then cat "points_$1.txt"; return; fi
    awk '{ line[NR] = $0; c[$3]++; k[$3, c[$3]] = NR }
         END { for (f in c) pick[k[f, int((c[f] + 1) / 2)]] = 1
               for (i = 1; i <= NR; i++) if (i in pick) print line[i] }' "points_$1.txt"
}

# kill PHASE SYSCALL N DESCRIPTION
kill_at() {
    rm -rf run
    [ "$1" = resume ] && cp -a part run
    # (a subshell: the shell's "Killed" notice goes to /dev/null)
    ( strace -f -qq -o /dev/null -e trace="$2" -e inject="$2":signal=KILL:when="$3" \
        $RK --out run $([ "$1" = resume ] && echo --resume auto) < /dev/null > kill.txt 2>&1
      exit $? ) 2> /dev/null
    local rc=$?
    if [ "$rc" != 137 ]; then
        failed=$((failed + 1))
        fail "$1 $2 #$3 ($4): the kill point was not reached (rc $rc)"
        return
    fi
    $RK --out run --resume auto < /dev/null > resume.txt 2>&1
    rc=$?
    if [ "$rc" != 0 ]; then
        failed=$((failed + 1))
        fail "$1 $2 #$3 ($4): resume rc $rc: $(tail -2 resume.txt)"
        return
    fi
    if "$PY" "$CK/compare.py" full/model.h5 run/model.h5 full run > cmp.txt 2>&1; then
        passed=$((passed + 1))
        echo "ok: $1 $2 #$3 ($4)"
    else
        failed=$((failed + 1))
        fail "$1 $2 #$3 ($4): $(tr '\n' ' ' < cmp.txt | cut -c1-300)"
    fi
}

for phase in fresh resume; do
    points $phase
    total=$(wc -l < "points_$phase.txt")
    [ "$total" -gt 10 ] || fail "$phase: only $total calls traced"
    sample $phase > "kill_$phase.txt"
    files=$(awk '{print $3}' "points_$phase.txt" | sort -u | wc -l)
    echo "$phase: $total calls on $files files of the run directory;" \
         "killing at $(wc -l < "kill_$phase.txt") of them"
    while read -r sc n f; do
        kill_at $phase "$sc" "$n" "$f"
    done < "kill_$phase.txt"
done
echo "$passed passed, $failed failed"
finish
