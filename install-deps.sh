#!/usr/bin/env bash
# Installs the Debian 12 packages sinreq needs to build and test, if any is
# missing. PyTorch (python3-torch, /usr/bin/python3) is one of them: the
# golden test (tests/golden) computes its expected values with it at test
# time; the benchmarks use it too, and so do sinreq-torch2model (PyTorch
# state_dicts in) and its test. python3-onnx: `sinreq export --format onnx`
# (sinreq-onnx builds the protobuf with it). Arguments are ignored (`--bench` once
# added PyTorch alone). Needs root (or sudo) only when something is missing.
# Slurm (tests/slurm starts its own test clusters; the packages' system
# services are not used): slurmctld, slurmd, slurm-client, munge, and
# libpmix-dev, whose libpmix.so Slurm's mpi/pmix plugin loads (srun
# --mpi=pmix; Debian's Open MPI has no PMI-2 support); iproute2 (`ip
# netns`, `ss`) for the test cluster of namespaced nodes (nsenter and
# unshare come with util-linux, always installed).
set -euo pipefail

pkgs=(cmake gcc make pkg-config
      libvulkan-dev mesa-vulkan-drivers vulkan-tools glslc spirv-tools
      vulkan-validationlayers
      libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools
      slurmctld slurmd slurm-client munge libpmix-dev procps iproute2
      libdnnl-dev libyaml-dev python3
      libmatio-dev libarchive-dev libjpeg62-turbo-dev libpng-dev libssl-dev
      zlib1g-dev dataset-fashion-mnist python3-numpy python3-scipy python3-pil
      python3-h5py python3-matplotlib python3-torch python3-onnx python3-yaml
      cppcheck)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
