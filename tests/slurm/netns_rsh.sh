#!/usr/bin/env bash
# Open MPI's remote launcher on the namespaced test cluster, standing in for
# ssh (there is no ssh between the namespaces): with
#     mpirun --mca plm_rsh_agent tests/slurm/netns_rsh.sh --hostfile H ...
# mpirun calls it as `netns_rsh.sh [OPTIONS] NODE COMMAND...` to start its
# orted on NODE; it runs COMMAND, a shell command line as ssh would, in
# NODE's namespace (`cluster.sh on`) of the cluster in $SR_SLURM_STATE.
set -u
while [ $# -gt 0 ]; do
    case "$1" in -*) shift ;; *) break ;; esac
done
[ $# -ge 2 ] || { echo "netns_rsh.sh: usage: netns_rsh.sh NODE COMMAND..." >&2; exit 255; }
[ -n "${SR_SLURM_STATE:-}" ] || { echo "netns_rsh.sh: SR_SLURM_STATE (the test cluster's state directory) is not set" >&2; exit 255; }
node=$1
shift
exec bash "$(dirname "$0")/cluster.sh" on "$SR_SLURM_STATE" "$node" sh -c "$*"
