# Shared helpers of the data_prep tests (sourced by every test script).
# Each test gets: $PREP (sinreq-prep), $DUMP (ds_dump), $MANGLE (h5_mangle),
# $WRITE_MAT (write_mat), $SRC (this directory), $WORK (a fresh directory).
# No pipefail: `producer | grep -q` must not fail when grep exits early.
set -eu

PREP=$1 DUMP=$2 MANGLE=$3 WRITE_MAT=$4 SRC=$5 WORK=$6
shift 6
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

# Python 3 without third-party modules is enough for the generators;
# find_python MODULE... picks an interpreter that has those modules.
find_python() {
    local py mods
    mods=$(IFS=,; echo "$*")
    for py in python3 /usr/bin/python3; do
        command -v "$py" >/dev/null 2>&1 || continue
        if "$py" -c "import $mods" 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}
PY=$(find_python sys) || { echo "SKIP: no python3"; exit 77; }

# The CIFAR-10 JPEG copy: $SR_CIFAR10_JPEG, else the copy beside the
# checkout (<checkout>/../shared/data/cifar10-jpeg.tar.gz, as tests/run.sh
# uses). Prints the path; empty when neither exists.
cifar10_jpeg_tarball() {
    local beside
    beside="$(cd "$SRC/../.." && pwd)/../shared/data/cifar10-jpeg.tar.gz"
    if [ -n "${SR_CIFAR10_JPEG:-}" ]; then
        echo "$SR_CIFAR10_JPEG"
    elif [ -f "$beside" ]; then
        echo "$beside"
    fi
}
CIFAR10_JPEG_SKIP="SKIP: no CIFAR-10 JPEG copy (set SR_CIFAR10_JPEG to cifar10-jpeg.tar.gz, or put it at <checkout>/../shared/data/)"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# expect_exit CODE REGEX CMD...: runs CMD, checks its exit code and that its
# stderr matches REGEX (grep -E).
expect_exit() {
    local want=$1 re=$2 rc=0
    shift 2
    "$@" >out.txt 2>err.txt || rc=$?
    [ "$rc" -eq "$want" ] || { cat err.txt >&2; fail "exit $rc, expected $want: $*"; }
    ! grep -Eq "Sanitizer|runtime error:" err.txt || { cat err.txt >&2; fail "sanitizer report: $*"; }
    grep -Eq -- "$re" err.txt || { cat err.txt >&2; fail "stderr does not match /$re/: $*"; }
    pass "exit $want /$re/: $(head -c 160 err.txt | tr '\n' ' ')"
}
