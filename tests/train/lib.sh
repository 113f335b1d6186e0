# Shared by the tests/train scripts: $SINREQ, $MKDS, $PLOT, $PY from CTest.
set -u
WORK=${1:?work dir}
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 2
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
# expect_rc RC PATTERN CMD...: exit code RC and PATTERN in stderr
expect_rc() {
    local want=$1 pat=$2; shift 2
    "$@" > out.txt 2> err.txt
    local rc=$?
    if [ "$rc" != "$want" ]; then
        fail "$* -> rc $rc, want $want: $(tail -2 err.txt)"
    elif [ -n "$pat" ] && ! grep -q -- "$pat" err.txt; then
        fail "$* -> message lacks '$pat': $(tail -2 err.txt)"
    else
        ok "$* -> $rc"
    fi
}
small_data() { "$MKDS" data.h5 --train 128 --test 60 "$@" || exit 2; }
T="$SINREQ train --batch 32 --lr 0.02 --quiet --hist-epochs="
finish() { [ "$fails" -eq 0 ] && echo PASS || { echo "$fails failure(s)"; exit 1; }; }
