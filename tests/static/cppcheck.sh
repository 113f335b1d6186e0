# Static analysis of src/ with cppcheck: any finding (warning, portability,
# and the errors cppcheck always reports) fails, except the few in
# suppressions.txt, each with its reason. Usage: cppcheck.sh SRC_ROOT WORK
set -u
root=${1:?source root}
work=${2:?work dir}
command -v cppcheck > /dev/null ||
    { echo "cppcheck is not installed (install-deps.sh installs it)"; exit 1; }
mkdir -p "$work/cache" || exit 2
# every module's include directories, so that types and macros resolve
incs=(-I "$root/include")
for d in "$root"/src/*/ "$root"/src/backend/*/; do incs+=(-I "$d"); done
cppcheck --std=c11 --enable=warning,portability --inline-suppr \
    --suppressions-list="$root/tests/static/suppressions.txt" \
    --error-exitcode=1 --quiet -j "$(nproc)" \
    --cppcheck-build-dir="$work/cache" \
    -D__GNUC__ -DSR_VERSION='"0"' "${incs[@]}" "$root/src" \
    2> "$work/findings.txt"
rc=$?
cat "$work/findings.txt"
[ $rc -eq 0 ] && echo "cppcheck: no findings" ||
    echo "cppcheck: findings above (fix them, or add a reasoned suppression)"
exit $rc
