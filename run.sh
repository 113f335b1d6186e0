#!/usr/bin/env bash
# The main job: install what is missing, build, then show the devices each
# backend finds and run the op benchmark smoke pass on the default backend.
# (Training on the embedded CIFAR-10 default comes with `sinreq train`.)
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
bash "$root/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)"
export LP_NUM_THREADS=${LP_NUM_THREADS:-$(nproc)}
"$root/build/src/cli/sinreq" devices
