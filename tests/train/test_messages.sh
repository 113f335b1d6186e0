# CLI messages: "did you mean" for flags, YAML keys and networks; an
# unknown flag given last is "unknown option"; no source location unless
# SINREQ_DEBUG=1; --width and --width-mult in train and info; DoReFa is
# stored as dorefa; export: --force, --allow-float and its summary line.
. "$(dirname "$0")/lib.sh"
small_data
expect_rc 1 "unknown option --lr-shedule (did you mean --lr-schedule?)" \
    $T --data data.h5 --out r --lr-shedule cosine
printf 'lr_shedule: cosine\n' > typo.yaml
expect_rc 1 "typo.yaml:1: unknown key 'lr_shedule' (did you mean lr_schedule?)" \
    $T --data data.h5 --out r --config typo.yaml
expect_rc 1 "unknown network 'resnet2' (did you mean resnet20?)" \
    $T --data data.h5 --out r --net resnet2
expect_rc 1 "unknown network 'resnt20' (did you mean resnet20?)" $SINREQ info --net resnt20
expect_rc 1 "unknown option --xyzzy (sinreq" $T --data data.h5 --out r --xyzzy
grep -q "did you mean" err.txt && fail "a suggestion for --xyzzy: $(cat err.txt)"
# unknown flags given last: named as unknown, not as missing a value
expect_rc 1 "unknown option --devic (did you mean --device?)" \
    $SINREQ eval --model m.h5 --data data.h5 --devic
expect_rc 1 "unknown option --bitz (did you mean --bits?)" $SINREQ info --net resnet20 --bitz
expect_rc 1 "unknown option '--outt' (did you mean --out?)" $SINREQ export --model m.h5 --outt
# the message first; the source location only for debugging
expect_rc 1 "" $T --data data.h5 --out r --net resnet2
grep -q "^sinreq train: --net: unknown network" err.txt && ok "no location prefix" \
    || fail "location prefix: $(cat err.txt)"
SINREQ_DEBUG=1 $T --data data.h5 --out r --net resnet2 2> err.txt
grep -q "^sinreq train: config\.c:[0-9]*: --net" err.txt && ok "SINREQ_DEBUG=1: location" \
    || fail "SINREQ_DEBUG=1: $(cat err.txt)"
# one spelling for the width in both commands
a=$($SINREQ info --net cifar10net --width 2 | grep "^parameters:")
b=$($SINREQ info --net cifar10net --width-mult 2 | grep "^parameters:")
c=$($SINREQ info --net cifar10net | grep "^parameters:")
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ] && ok "info --width-mult = --width" \
    || fail "info widths: '$a' '$b' '$c'"
$T --data data.h5 --out w --epochs 1 --max-steps 1 --width 2 --quantizer DoReFa --bits 3 \
    --diverge-factor 0 --max-abs-weight 0 \
    || fail "train --width 2 --quantizer DoReFa rc $?"
grep -q "^width_mult: 2$" w/config.yaml && ok "train --width = --width-mult" \
    || fail "config.yaml: $(grep width w/config.yaml)"
grep -q '^quantizer: "dorefa"$' w/config.yaml && ok "DoReFa stored as dorefa" \
    || fail "config.yaml: $(grep quantizer w/config.yaml)"
# export: a summary line; an existing file needs --force
$SINREQ export --model w/model.h5 --out e.h5 > out.txt || fail "export rc $?"
grep -qE "^wrote e.h5: [0-9]+ quantized layer\(s\) \([0-9]+ at 3 bits\), [0-9]+ float32 tensor\(s\), [0-9]+ bytes$" out.txt \
    && ok "export: $(cat out.txt)" || fail "export summary: $(cat out.txt)"
grep -q " $(stat -c %s e.h5) bytes" out.txt || fail "export size differs from the file's"
cp e.h5 keep.h5
expect_rc 1 "e.h5 exists; --force replaces it" $SINREQ export --model w/model.h5 --out e.h5
cmp -s e.h5 keep.h5 && ok "existing export kept" || fail "existing export changed"
$SINREQ export --model w/model.h5 --out e.h5 --force > /dev/null && ok "--force" || fail "--force rc $?"
# a full-precision model: refused unless --allow-float
$T --data data.h5 --out fp --epochs 1 --max-steps 1 || fail "fp train rc $?"
expect_rc 1 "fp/model.h5 has no quantized layer (a full-precision model)" \
    $SINREQ export --model fp/model.h5 --out fpe.h5
[ -e fpe.h5 ] && fail "fpe.h5 written"
$SINREQ export --model fp/model.h5 --out fpe.h5 --allow-float > out.txt \
    && grep -q "^wrote fpe.h5: 0 quantized layer(s), [0-9]* float32" out.txt \
    && ok "--allow-float: $(cat out.txt)" || fail "--allow-float: $(cat out.txt)"
# a --device that names no device: a usage error (exit 1), where Vulkan runs
if $SINREQ devices --backend vulkan > /dev/null 2>&1; then
    expect_rc 1 "no Vulkan device matches 'no-such-gpu'" $SINREQ eval --model w/model.h5 \
        --data data.h5 --backend vulkan --device no-such-gpu
else
    ok "no Vulkan device here: --device not checked"
fi
finish
