#!/usr/bin/env bash
# The test command (README): build with warnings as errors, run every ctest
# label, then rebuild the CPU paths with ASan + UBSan and run the unit tests
# again under them.
#   tests/run.sh [--install-deps]
# --install-deps first installs the missing packages (install-deps.sh; needs
# root or sudo). Without it nothing is installed: a missing package fails the
# configure step, which names it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
install_deps=0
for arg in "$@"; do
    case "$arg" in
    --install-deps) install_deps=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tests/run.sh: unknown argument '$arg' (only --install-deps)" >&2; exit 1 ;;
    esac
done
if [ "$install_deps" = 1 ]; then
    bash "$root/install-deps.sh"
fi

# The real-data tests use the CIFAR-10 copy beside the checkout (shared/).
# CI always has it, so there a missing copy is an error, not a skip.
cifar="$root/../shared/data/cifar10-jpeg.tar.gz"
if [ -f "$cifar" ]; then
    export SR_CIFAR10_JPEG=${SR_CIFAR10_JPEG:-$(cd "$(dirname "$cifar")" && pwd)/$(basename "$cifar")}
elif [ "${CI:-}" = "true" ]; then
    echo "tests/run.sh: $cifar is missing; the real-data tests need it" >&2
    exit 1
fi

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DSR_WERROR=ON >/dev/null
cmake --build "$root/build" -j"$jobs"
export LP_NUM_THREADS=${LP_NUM_THREADS:-$jobs}
# label slurm starts a one-node Slurm cluster and one of two namespaced
# nodes (tests/slurm) and stops them as its last tests; stop them here too
# if ctest is interrupted
trap 'for c in cluster nodes; do bash "$root/tests/slurm/cluster.sh" stop "$root/build/tests/slurm/$c" > /dev/null 2>&1; done; true' EXIT
ctest --test-dir "$root/build" --output-on-failure ${SR_CTEST_ARGS:-}

# Sanitizers: CPU backend and everything that does not need a driver.
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug \
      -DSR_SANITIZE=ON -DSR_WITH_VULKAN=OFF -DSR_WERROR=ON >/dev/null
cmake --build "$root/build-asan" -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure -L unit
