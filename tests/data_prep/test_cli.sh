# sinreq-prep usage errors: exit 1 with a message; --help exits 0.
source "$(dirname "$0")/lib.sh"

"$PREP" --help | grep -q "subcommands" || fail "--help"
expect_exit 1 "no subcommand" "$PREP"
expect_exit 1 "unknown subcommand 'frobnicate'" "$PREP" frobnicate x -o o.h5
expect_exit 1 "unknown option '--bogus'" "$PREP" idx . --bogus -o o.h5
expect_exit 1 "does not apply" "$PREP" idx . --size 3 -o o.h5
expect_exit 1 "no output given" "$PREP" idx .
expect_exit 1 "no input given" "$PREP" idx -o o.h5
expect_exit 1 "--val-fraction '1.5'" "$PREP" idx . --val-fraction 1.5 -o o.h5
expect_exit 1 "output directory .*does not exist" "$PREP" idx . -o nodir/o.h5
expect_exit 1 "--size S is required" "$PREP" images . -o o.h5
expect_exit 1 "missing_dir: no such" "$PREP" cifar10 missing_dir -o o.h5
expect_exit 1 "missing_dir: no such" "$PREP" svhn missing_dir -o o.h5
expect_exit 1 "missing_dir: no such" "$PREP" images missing_dir --size 8 -o o.h5
expect_exit 1 "missing_dir: no such" "$PREP" idx missing_dir -o o.h5
expect_exit 1 "missing.h5: cannot open" "$PREP" info missing.h5
[ ! -e o.h5 ] || fail "an output was left behind"
