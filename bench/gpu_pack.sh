#!/usr/bin/env bash
# bench/gpu_pack.sh: build the GPU benchmark binaries HERE and fill carry/
# (ignored by git) with everything bench/gpu.sh needs on an NVIDIA machine
# that has no package registry, no Vulkan loader, no oneDNN:
#
#   carry/bin/bench_ops, carry/bin/check_vk_vs_cpu, carry/bin/bench_train
#   carry/lib/     every shared library `ldd` lists for them except glibc's
#                  own and the compiler runtime every Linux has (libgcc_s,
#                  libstdc++): libvulkan.so.1 (the loader), libdnnl (40 MB,
#                  the CPU backend's, for the checks against it),
#                  libOpenCL, libgomp, ...; those over 1 MiB gzipped
#                  (NAME.gz: libdnnl 40 -> 11 MB), which gpu.sh unpacks
#                  into a temporary folder
#   carry/lib-gl/  libglvnd's dispatch libraries and their X11 deps, which
#                  NVIDIA's Vulkan ICD (libGLX_nvidia.so.0) may need; gpu.sh
#                  adds this folder only where the machine lacks
#                  libGLdispatch.so.0
#   carry/MANIFEST what was packed, from which build, with sizes
#
#   bench/gpu_pack.sh [--build-dir DIR]   (default build-gpu)
#
# Then copy the repository with carry/ to the GPU machine and run
# `bash bench/gpu.sh` there (docs/performance.md, "gpu_pack.sh + gpu.sh").
# carry/'s size is printed: it is what the copy costs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=build-gpu
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_pack.sh: unknown option '$1'" >&2; exit 1 ;;
    esac
done

# 1. build (Release, Vulkan on, no tests)
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DSR_WITH_VULKAN=ON >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target bench_ops check_vk_vs_cpu bench_train \
    >"$build/gpu_pack.log" 2>&1 || {
    tail -30 "$build/gpu_pack.log" >&2
    echo "gpu_pack.sh: build failed; full log in $build/gpu_pack.log" >&2
    exit 1
}

# 2. carry/
rm -rf carry
mkdir -p carry/bin carry/lib carry/lib-gl
cp "$build/bench/bench_ops" "$build/bench/check_vk_vs_cpu" "$build/bench/bench_train" carry/bin/
strip --strip-unneeded carry/bin/* 2>/dev/null || true

# glibc (present on every machine, and must match its own ld.so) and the
# compiler runtime (the target's is newer; an old copy could shadow it).
is_system() {
    case "$1" in
        linux-vdso.so*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|\
        librt.so*|libresolv.so*|libutil.so*|libmvec.so*|libgcc_s.so*|\
        libstdc++.so*) return 0 ;;
        *) return 1 ;;
    esac
}
# copy_deps DEST FILE...: each non-system library ldd lists, under its
# soname, as a real file (the symlink followed).
copy_deps() {
    local dest=$1; shift
    ldd "$@" | awk '/=>/ && $3 ~ /^\// {print $1, $3}' | sort -u |
    while read -r soname path; do
        is_system "$soname" && continue
        if [ -e "carry/lib/$soname" ] || [ -e "$dest/$soname" ]; then continue; fi
        cp -L "$path" "$dest/$soname"
    done
}
copy_deps carry/lib carry/bin/bench_ops carry/bin/check_vk_vs_cpu carry/bin/bench_train
[ -e carry/lib/libvulkan.so.1 ] || {
    echo "gpu_pack.sh: bench_ops does not link libvulkan.so.1 (built with SR_WITH_VULKAN=OFF?)" >&2
    exit 1
}

# libglvnd for NVIDIA's ICD (only used where the target lacks it)
gl=()
ldcache=$(ldconfig -p 2>/dev/null || true)
for so in libGLdispatch.so.0 libGLX.so.0 libEGL.so.1 libOpenGL.so.0; do
    p=$(awk -v s="$so" '$1 == s && /x86-64/ {print $NF; exit}' <<<"$ldcache")
    [ -n "$p" ] && { cp -L "$p" "carry/lib-gl/$so"; gl+=("carry/lib-gl/$so"); }
done
[ ${#gl[@]} -gt 0 ] && copy_deps carry/lib-gl "${gl[@]}"

# The copy to the GPU machine is size-limited: big libraries go gzipped
# (gzip is on every machine; gpu.sh unpacks them).
find carry/lib carry/lib-gl -type f -size +1M -exec gzip -9 {} +

{
    echo "# carry/ packed by bench/gpu_pack.sh on $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty'), build $build"
    (cd carry && find bin lib lib-gl -type f -printf '%s\t%p\n' | sort -k2)
} > carry/MANIFEST
size=$(du -sm carry | cut -f1)
echo "gpu_pack.sh: carry/ holds $(find carry -type f | wc -l) files, ${size} MiB:"
sed 's/^/  /' carry/MANIFEST
if [ "$size" -gt 40 ]; then
    echo "gpu_pack.sh: note: carry/ is ${size} MiB (usually about 17)" >&2
fi
