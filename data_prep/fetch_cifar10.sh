#!/usr/bin/env bash
# Downloads the official CIFAR-10 binary version and checks its md5, then
# prints the conversion command. Needs internet; not run by the tests.
#   data_prep/fetch_cifar10.sh [DIR]        (default: ./data)
set -euo pipefail

dir=${1:-data}
url=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
md5=c32a1d4ab5d03f1284b67883e8d87530
file=$dir/cifar-10-binary.tar.gz

mkdir -p "$dir"
if [ ! -f "$file" ]; then
    echo "fetch_cifar10: downloading $url"
    if command -v curl >/dev/null; then
        curl -fL --retry 3 -o "$file.part" "$url"
    else
        wget -O "$file.part" "$url"
    fi
    mv "$file.part" "$file"
fi
got=$(md5sum "$file" | cut -d' ' -f1)
if [ "$got" != "$md5" ]; then
    echo "fetch_cifar10: $file: md5 $got, expected $md5 (delete it and retry)" >&2
    exit 1
fi
echo "fetch_cifar10: $file OK (md5 $md5)"
echo "convert with: sinreq-prep cifar10 $file -o $dir/cifar10.h5 [--val-fraction 0.1]"
