# Loader speed on real data: CIFAR-10 (the shared JPEG copy, converted with
# `sinreq-prep images --size 32` as tests/data_prep does), CIFAR
# augmentation, batch 128, one loader thread. Fails below 20,000 images/s
# (SR_LOADER_MIN_RATE overrides).
#   test_cifar10_speed.sh TEST_LOADER SINREQ_PREP EXISTING_H5 WORKDIR
# The file used: $SR_CIFAR10_H5, else EXISTING_H5 (left by the data_prep
# slow test), else a conversion here.
set -eu
LOADER=$1 PREP=$2 EXISTING=$3 WORK=$4
mkdir -p "$WORK"
cd "$WORK"
H5=${SR_CIFAR10_H5:-}
if [ -z "$H5" ] && [ -f "$EXISTING" ]; then
    H5=$EXISTING
fi
if [ -z "$H5" ]; then
    TARBALL=${SR_CIFAR10_JPEG:-/work/shared/data/cifar10-jpeg.tar.gz}
    [ -f "$TARBALL" ] || { echo "SKIP: $TARBALL missing"; exit 77; }
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
