# Loader speed on real data: CIFAR-10 (the JPEG copy: $SR_CIFAR10_JPEG, else
# <checkout>/../shared/data/cifar10-jpeg.tar.gz; converted with
# `sinreq-prep images --size 32` as tests/data_prep does), CIFAR
# augmentation, batch 128, one loader thread. Fails below 20,000 images/s
# (SR_LOADER_MIN_RATE overrides).
#   test_cifar10_speed.sh TEST_LOADER SINREQ_PREP EXISTING_H5 WORKDIR
# The file used: $SR_CIFAR10_H5, else EXISTING_H5 (left by the data_prep
# slow test), else a conversion here.
set -eu
LOADER=$1 PREP=$2 EXISTING=$3 WORK=$4
BESIDE="$(cd "$(dirname "$0")/../.." && pwd)/../shared/data/cifar10-jpeg.tar.gz"
mkdir -p "$WORK"
cd "$WORK"
H5=${SR_CIFAR10_H5:-}
if [ -z "$H5" ] && [ -f "$EXISTING" ]; then
    H5=$EXISTING
fi
if [ -z "$H5" ]; then
    if [ -n "${SR_CIFAR10_JPEG:-}" ]; then
        TARBALL=$SR_CIFAR10_JPEG
        [ -f "$TARBALL" ] || { echo "FAIL: SR_CIFAR10_JPEG=$TARBALL: no such file" >&2; exit 1; }
    elif [ -f "$BESIDE" ]; then
        TARBALL=$BESIDE
    else
        echo "SKIP: no CIFAR-10 data (set SR_CIFAR10_H5 or SR_CIFAR10_JPEG, or put cifar10-jpeg.tar.gz at <checkout>/../shared/data/)"
        exit 77
    fi
    if [ ! -f c.h5 ]; then
        rm -rf jpeg && mkdir jpeg
        tar xzf "$TARBALL" -C jpeg
        "$PREP" images jpeg --size 32 -o c.h5 --force --quiet > /dev/null
        rm -rf jpeg
    fi
    H5=$WORK/c.h5
fi
echo "dataset: $H5"
"$LOADER" --bench "$H5"
