# An export evaluates exactly as the model it came from, for every
# quantizer, with and without activation bits, and with WaveQ: `sinreq
# eval` prints the same loss and top-1 for model.h5 and its export (the
# decoded weights are Q(W) and the stored plan, activation bits included,
# still applies to them). resnet20: with batch norm it learns in one epoch
# of this data under every quantizer.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 256 --test 60 || exit 2
n=0
for q in "none" "dorefa --bits 3" "wrpn --bits 3" "dorefa --bits 4 --waveq"; do
    for a in 0 4; do
        tag=$(echo "$q-a$a" | tr -d ' -' )
        $SINREQ train --net resnet20 --batch 32 --lr 0.02 --quiet --hist-epochs= \
            --data data.h5 --epochs 1 --threads 2 --out $tag --quantizer $q --act-bits $a \
            || { fail "$tag: train rc $?"; continue; }
        $SINREQ export --model $tag/model.h5 --out $tag/export.h5 --allow-float \
            || { fail "$tag: export rc $?"; continue; }
        m=$($SINREQ eval --model $tag/model.h5 --data data.h5 --batch 30 | sed 's/^[^ ]* //')
        e=$($SINREQ eval --model $tag/export.h5 --data data.h5 --batch 30 | sed 's/^[^ ]* //')
        if [ -n "$m" ] && [ "$m" = "$e" ]; then ok "$tag: identical: $e"
        else fail "$tag: model '$m' vs export '$e'"; fi
        n=$((n + 1))
    done
done
[ $n = 8 ] || fail "$n of 8 cases ran"
finish
