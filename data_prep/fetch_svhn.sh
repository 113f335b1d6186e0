#!/usr/bin/env bash
# Downloads SVHN's cropped digits (format 2) and checks their md5, then
# prints the conversion command. Needs internet; not run by the tests.
#   data_prep/fetch_svhn.sh [DIR] [--extra]   (default DIR: ./data/svhn;
#   --extra also fetches extra_32x32.mat, 1.3 GB)
set -euo pipefail

dir=data/svhn
extra=0
for a in "$@"; do
    case $a in
    --extra) extra=1 ;;
    -*) echo "fetch_svhn: unknown option $a" >&2; exit 1 ;;
    *) dir=$a ;;
    esac
done
base=http://ufldl.stanford.edu/housenumbers
files=("train_32x32.mat e26dedcc434d2e4c54c9b2d4a06d8373"
       "test_32x32.mat eb5a983be6a315427106f1b164d9cef3")
[ $extra -eq 1 ] && files+=("extra_32x32.mat a93ce644f1a588dc4d68dda5feec44a7")

mkdir -p "$dir"
for entry in "${files[@]}"; do
    set -- $entry
    name=$1 md5=$2 file=$dir/$1
    if [ ! -f "$file" ]; then
        echo "fetch_svhn: downloading $base/$name"
        if command -v curl >/dev/null; then
            curl -fL --retry 3 -o "$file.part" "$base/$name"
        else
            wget -O "$file.part" "$base/$name"
        fi
        mv "$file.part" "$file"
    fi
    got=$(md5sum "$file" | cut -d' ' -f1)
    if [ "$got" != "$md5" ]; then
        echo "fetch_svhn: $file: md5 $got, expected $md5 (delete it and retry)" >&2
        exit 1
    fi
    echo "fetch_svhn: $file OK (md5 $md5)"
done
echo "convert with: sinreq-prep svhn $dir -o $dir/../svhn.h5 [--extra train|split|skip] [--val-fraction 0.1]"
