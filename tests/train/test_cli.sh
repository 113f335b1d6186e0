# Help texts and the flag forms.
. "$(dirname "$0")/lib.sh"
expect_rc 0 "" $SINREQ train --help
for k in --net --data --width-mult --quantizer --bits --layer-bits --quantize-layers \
         --fp-layers --act-bits --sinreq-lambda --lambda-schedule --sinreq-norm --sinreq-domain --waveq \
         --epochs --batch --lr --lr-schedule --lr-milestones --lr-gamma --momentum \
         --weight-decay --backend --device --threads --seed --out --init --val \
         --hist-epochs --force --max-steps --quiet --train-limit --test-limit \
         --val-limit --eval-every --quick --progress-every --keep-last; do
    grep -q -- "$k " out.txt || fail "train --help lacks $k"
done
expect_rc 0 "" $SINREQ eval --help
expect_rc 0 "" $SINREQ info --help
expect_rc 1 "" $SINREQ eval --model
expect_rc 1 "" $SINREQ info
small_data
# --key=value, bool flags with and without a value, WaveQ, cosine, global norm
# (DoReFa from scratch on cifar10net starts at a loss ~1e4: guards off)
$T --data=data.h5 --out=w --epochs=1 --quantizer dorefa --bits 5 --waveq --val false \
   --lr-schedule cosine --sinreq-norm global --max-steps 2 --diverge-factor 0 --max-abs-weight 0 \
   || fail "waveq run rc $?"
"$PY" -c "
import json; r=[json.loads(l) for l in open('w/metrics.jsonl')]
assert all('beta' in l for l in r[0]['layers']), r[0]
res=json.load(open('w/result.json')); assert 'waveq_beta' in res" || fail "waveq metrics"
finish
