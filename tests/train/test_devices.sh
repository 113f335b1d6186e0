# sinreq devices: the CPU always lists; Vulkan lists where the build has it
# (and a driver), else a clear message and exit 2, never a crash.
# $WITH_VULKAN is the build's SR_WITH_VULKAN.
. "$(dirname "$0")/lib.sh"
expect_rc 0 "" $SINREQ devices --backend cpu
grep -q '^\[cpu\]' out.txt || fail "--backend cpu: no [cpu] section"
grep -q '^selected: ' out.txt || fail "--backend cpu: no selected device"
expect_rc 1 "unknown backend 'tpu'" $SINREQ devices --backend tpu
if [ "$WITH_VULKAN" = ON ]; then
    # with a driver 0, without one 2
    $SINREQ devices > out.txt 2> err.txt
    rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 2 ] ||
        fail "sinreq devices -> rc $rc: $(tail -2 err.txt)"
else
    expect_rc 2 "this build has no Vulkan backend" \
        $SINREQ devices --backend vulkan
    expect_rc 2 "this build has no Vulkan backend" $SINREQ devices
fi
grep -q '^\[cpu\]' out.txt || fail "sinreq devices: no [cpu] section"
grep -q '^\[vulkan\]' out.txt || fail "sinreq devices: no [vulkan] section"
finish
