# Shared by the tests/dist_train scripts: $SINREQ $MKDS $PY $MPIEXEC $MPI_NP
# $MPI_PRE $BACKEND from CTest.
. "$(dirname "$0")/../train/lib.sh"
DT="$(dirname "$0")"
BACKEND=${BACKEND:-cpu}
if [ "$BACKEND" = vulkan ]; then
    $SINREQ devices --backend vulkan > /dev/null 2>&1 || { echo "no Vulkan device"; exit 77; }
fi
# mpirun N ARGS...: N ranks of ARGS
mpi() { local n=$1; shift; "$MPIEXEC" $MPI_NP "$n" $MPI_PRE "$@"; }
# ckpt_compare A.h5 B.h5 [RUN_A RUN_B]: bit-identical (tests/ckpt)
same() {
    "$PY" "$DT/../ckpt/compare.py" "$1/model.h5" "$2/model.h5" "$1" "$2" > cmp.txt 2>&1 \
        && ok "$3: $(head -1 cmp.txt)" || fail "$3: $(cat cmp.txt)"
}
wait_for() { # GLOB N SECONDS
    local i=0
    while [ "$i" -lt $(($3 * 20)) ]; do
        [ "$(ls $1 2>/dev/null | wc -l)" -ge "$2" ] && return 0
        sleep 0.05; i=$((i + 1))
    done
    return 1
}
# the ranks mpirun PID started (its children)
ranks_of() { pgrep -P "$1" | tr '\n' ' '; }
