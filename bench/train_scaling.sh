#!/usr/bin/env bash
# bench/train_scaling.sh: images/s of `sinreq train` (resnet20 by default,
# batch 128 per rank) with 1 MPI rank and with 2 ranks on the same cores,
# from the trainer's own per-epoch measurements (metrics.jsonl).
#
#   bench/train_scaling.sh [--data FILE.h5] [--net NAME] [--batch B]
#                          [--backend cpu|vulkan] [--warmup W] [--steps S]
#                          [--bucket-mb X] [--serial] [--rounds R]
#                          [--wrap "CMD ..."] [--build-dir DIR] [--keep DIR]
#                          [--nodes STATE_DIR]
#
# Runs, each a fresh `sinreq train` (P = nproc):
#   A  1 rank,  P threads               (the whole machine, one process)
#   B  1 rank,  P/2 threads             (the weak-scaling baseline: one
#                                         rank's share of the machine)
#   C  2 ranks (mpirun -n 2), P/2 threads each
#   D  as C with SINREQ_DIST_OVERLAP=0  (only with --serial)
#   T  2 ranks on 2 nodes, P/2 threads each, Open MPI over TCP (only with
#      --nodes STATE_DIR: the namespaced test cluster that
#      `tests/slurm/cluster.sh start STATE_DIR 2` started; launched by
#      mpirun with a host file and tests/slurm/netns_rsh.sh for ssh, btl
#      tcp,self on 10.213.0.0/24). The nodes share this machine's cores, so
#      T against C is the cost of TCP (loopback-speed veth) instead of
#      shared memory, not that of a real network
# The dataset is cut so that an epoch is W steps at each run's global batch:
# epoch 1 is the warm-up and is dropped, epochs 2.. (ceil(S/W) of them) are
# timed. An epoch's images_per_s counts its training loop only (loading,
# upload, step, averaging, update); the evaluation and checkpoint at its end
# are outside it. Without --data the images are random 3x32x32 (a step costs
# the same); with --data, the first images of that dataset (bench_dataset).
# Prints, per run, images/s (timed images / timed seconds), images per
# CPU-second (metrics.jsonl cpu_s, summed over ranks: what a step costs in
# CPU time, which a shared machine's load changes much less than the wall
# time), the mean step time and the shares of it spent waiting in the
# gradient allreduce
# (allreduce_wait_s / step_s), in the host<->device copies of the
# gradient buckets (allreduce_copy_s / step_s) and in the bucket_ready
# calls between backward segments (allreduce_progress_s / step_s); then
#   scaling efficiency (same cores)  = ips(C) / ips(A)
#   weak-scaling efficiency          = ips(C) / (2 ips(B))
#   the first again from CPU time    = ipc(C) / ipc(A)
# --rounds R repeats A, B, C(, D) R times in turn and takes the median of
# each. --wrap "CMD" runs every timed `sinreq train` as CMD sinreq ...
# (e.g. a script that pauses other work on the machine while it runs).
# Environment: MPIRUN_ARGS (more mpirun flags; as root Open MPI also wants
# OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1), and
# OMP_WAIT_POLICY=passive on a machine shared with other work (active
# waiting collapses multi-threaded runs there; docs/performance.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=
net=resnet20
batch=128
backend=cpu
warmup=5
steps=30
bucket=
serial=0
rounds=1
wrap=
build=$root/build
keep=
nodes=

die() { echo "train_scaling.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data=${2:?}; shift 2 ;;
        --net) net=${2:?}; shift 2 ;;
        --batch) batch=${2:?}; shift 2 ;;
        --backend) backend=${2:?}; shift 2 ;;
        --warmup) warmup=${2:?}; shift 2 ;;
        --steps) steps=${2:?}; shift 2 ;;
        --bucket-mb) bucket=${2:?}; shift 2 ;;
        --serial) serial=1; shift ;;
        --rounds) rounds=${2:?}; shift 2 ;;
        --wrap) wrap=${2?}; shift 2 ;;
        --build-dir) build=${2:?}; shift 2 ;;
        --keep) keep=${2:?}; shift 2 ;;
        --nodes) nodes=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,48p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
done
[ "$warmup" -ge 1 ] && [ "$steps" -ge 1 ] || die "--warmup and --steps must be >= 1"

sinreq=$build/src/cli/sinreq
mkds=$build/bench/bench_dataset
if [ ! -x "$sinreq" ] || [ ! -x "$mkds" ]; then
    [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" >/dev/null
    cmake --build "$build" --target sinreq bench_dataset -j"$(nproc)" >/dev/null
fi
[ -x "$sinreq" ] || die "no sinreq at $sinreq"
if [ -n "$nodes" ]; then
    nodes=$(cd "$nodes" && pwd) || die "--nodes: no directory $nodes"
    bash "$root/tests/slurm/cluster.sh" status "$nodes" > /dev/null 2>&1 &&
        [ "$(cat "$nodes/nodes" 2> /dev/null || echo 0)" -ge 2 ] ||
        die "--nodes $nodes: no running cluster of namespaced nodes there" \
            "(tests/slurm/cluster.sh start $nodes 2)"
fi
command -v mpirun >/dev/null || die "no mpirun"
py=
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import json' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || die "no python3"

P=$(nproc)
half=$((P / 2 > 0 ? P / 2 : 1))
epochs=$((1 + (steps + warmup - 1) / warmup))
work=${keep:-$(mktemp -d /tmp/train_scaling.XXXXXX)}
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT

# dataset for N ranks: an epoch of W global batches, one test batch per rank
dataset() {
    local n=$1 f=$work/data_$1.h5
    [ -s "$f" ] || "$mkds" "$f" --train $((warmup * batch * n)) \
        --test $((batch * n)) ${data:+--from "$data"} ||
        die "bench_dataset failed"
    echo "$f"
}

# run NAME RANKS THREADS [ENV...]: one training; prints its summary line
run() {
    local name=$1 n=$2 thr=$3; shift 3
    local out=$work/$name.$r
    local args=(train --net "$net" --data "$(dataset "$n")" --batch "$batch"
                --epochs "$epochs" --lr 0.05 --backend "$backend"
                --threads "$thr" --hist-epochs= --quiet --keep-last 1
                --out "$out" --force ${bucket:+--bucket-mb "$bucket"})
    rm -rf "$out"
    if [ "$name" = T ]; then
        printf 'node1 slots=1\nnode2 slots=1\n' > "$work/hosts"
        $wrap env "$@" SR_SLURM_STATE="$nodes" OMPI_MCA_pml=ob1 \
            OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=10.213.0.0/24 \
            OMPI_MCA_oob_tcp_if_include=10.213.0.0/24 \
            bash "$root/tests/slurm/cluster.sh" on "$nodes" head \
            mpirun --mca plm_rsh_agent "$root/tests/slurm/netns_rsh.sh" \
            --hostfile "$work/hosts" -n 2 --map-by ppr:1:node \
            ${MPIRUN_ARGS:-} "$sinreq" "${args[@]}" > "$out.log" 2>&1
    elif [ "$n" = 1 ]; then
        env "$@" $wrap "$sinreq" "${args[@]}" > "$out.log" 2>&1
    else
        $wrap env "$@" mpirun -n "$n" ${MPIRUN_ARGS:-} "$sinreq" "${args[@]}" \
            > "$out.log" 2>&1
    fi || { tail -5 "$out.log" >&2; die "$name: sinreq train failed"; }
    # timed epochs: 2..; ips = timed images / timed seconds
    "$py" - "$out/metrics.jsonl" "$name" "$n" "$thr" "$((n * batch))" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
gb = int(sys.argv[5])
imgs = secs = st = wt = ct = pt = cpu = 0.0
for prev, r in zip(rows, rows[1:]):
    k = r["steps"] - prev["steps"]      # steps in this epoch
    imgs += k * gb
    secs += k * gb / r["images_per_s"]
    st += k * r["step_s"]
    wt += k * r.get("allreduce_wait_s", 0.0)
    ct += k * r.get("allreduce_copy_s", 0.0)
    pt += k * r.get("allreduce_progress_s", 0.0)
    cpu += k * r.get("cpu_s", float("nan"))   # nan: an older sinreq
print(sys.argv[2], sys.argv[3], sys.argv[4], imgs, secs, st / (imgs / gb),
      wt / st, ct / st, pt / st, imgs / cpu)
PY
}

echo "# $(date -u +%FT%TZ) $(uname -n), $P cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
echo "# $net, $backend backend, batch $batch per rank, warm-up epoch of $warmup steps dropped," \
     "$((epochs - 1)) timed epochs of $warmup steps, $rounds round(s)"
echo "# OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}, MPIRUN_ARGS=${MPIRUN_ARGS:-}, wrap: ${wrap:-none}, bucket_mb ${bucket:-default}"
echo "# load before: $(uptime | sed 's/.*load average: //')"
res=$work/results.txt
: > "$res"
for ((r = 0; r < rounds; r++)); do
    run A 1 "$P" >> "$res"
    run B 1 "$half" >> "$res"
    run C 2 "$half" >> "$res"
    [ "$serial" = 1 ] && run D 2 "$half" SINREQ_DIST_OVERLAP=0 >> "$res"
    [ -n "$nodes" ] && run T 2 "$half" >> "$res"
done
echo "# load after: $(uptime | sed 's/.*load average: //')"
"$py" - "$res" "$batch" <<'PY'
import sys, statistics as s
rows = [l.split() for l in open(sys.argv[1])]
batch = int(sys.argv[2])
runs = {}
for name, n, thr, imgs, secs, step, wait, copy, prog, ipc in rows:
    r = runs.setdefault(name, {"n": int(n), "thr": int(thr), "ips": [],
                               "step": [], "wait": [], "copy": [],
                               "prog": [], "ipc": []})
    r["ips"].append(float(imgs) / float(secs))
    r["step"].append(float(step))
    r["wait"].append(float(wait))
    r["copy"].append(float(copy))
    r["prog"].append(float(prog))
    r["ipc"].append(float(ipc))
what = {"A": "1 rank, all cores", "B": "1 rank, half the cores",
        "C": "2 ranks, overlap", "D": "2 ranks, serial",
        "T": "2 nodes x 1 rank, TCP"}
print("%-3s %-24s %5s %7s %6s %9s %9s %7s %6s %6s %6s" % (
    "run", "", "ranks", "threads", "global", "images/s", "img/cpu_s",
    "step_s", "wait%", "copy%", "ready%"))
m = {}
c = {}
for k in sorted(runs):
    r = runs[k]
    m[k] = s.median(r["ips"])
    c[k] = s.median(r["ipc"])
    print("%-3s %-24s %5d %7d %6d %9.1f %9.1f %7.3f %6.2f %6.2f %6.2f" % (
        k, what[k], r["n"], r["thr"], r["n"] * batch, m[k], c[k],
        s.median(r["step"]), 100 * s.median(r["wait"]),
        100 * s.median(r["copy"]), 100 * s.median(r["prog"])))
if len(runs["A"]["ips"]) > 1:
    for key, what in (("ips", "images/s"), ("ipc", "images per CPU-second")):
        print("# per round %s: " % what + "; ".join(
            "%s %s" % (k, " ".join("%.1f" % v for v in runs[k][key]))
            for k in sorted(runs)))
e = m["C"] / m["A"]
print("scaling efficiency ips(2 ranks) / ips(1 rank), same cores: %.3f "
      "(floor 0.85: %s)" % (e, "met" if e >= 0.85 else "MISSED"))
print("weak-scaling efficiency ips(2 ranks) / (2 x ips(1 rank on half the "
      "cores)): %.3f" % (m["C"] / (2 * m["B"])))
print("the same from CPU time (images per CPU-second, C / A): %.3f" %
      (c["C"] / c["A"]))
if "T" in m:
    print("2 namespaced nodes over TCP: ips(T) / ips(1 rank), same cores: "
          "%.3f; ips(T) / ips(2 ranks on one node): %.3f" %
          (m["T"] / m["A"], m["T"] / m["C"]))
if "D" in m:
    print("overlap vs serial (2 ranks), images/s: %.3f, per CPU-second: %.3f"
          % (m["C"] / m["D"], c["C"] / c["D"]))
PY
