# Help texts and the flag forms.
. "$(dirname "$0")/lib.sh"
expect_rc 0 "" $SINREQ train --help
for k in --net --data --width-mult --quantizer --bits --layer-bits --quantize-layers \
         --fp-layers --act-bits --sinreq-lambda --lambda-schedule --sinreq-norm --sinreq-domain --waveq \
         --epochs --batch --lr --lr-schedule --lr-milestones --lr-gamma --momentum \
         --weight-decay --backend --device --threads --seed --out --init --val \
         --hist-epochs --force --max-steps --quiet --nesterov --warmup-epochs \
         --label-smoothing --clip-grad-norm --lr-step-epochs --train-limit --test-limit \
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
$T --data=data.h5 --out=w --epochs=1 --quantizer dorefa --waveq --val false \
   --lr-schedule cosine --sinreq-norm global --max-steps 2 --diverge-factor 0 --max-abs-weight 0 \
   || fail "waveq run rc $?"
"$PY" -c "
import json; r=[json.loads(l) for l in open('w/metrics.jsonl')]
import math
assert all(l['bits'] == math.ceil(l['beta']) for l in r[0]['layers']), r[0]
for k in ('waveq_lambda_w', 'waveq_lambda_beta', 'waveq_beta_lr'):
    assert k in r[0], (k, r[0])
assert r[0]['lambda'] == r[0]['waveq_lambda_w'], r[0]
res=json.load(open('w/result.json')); assert 'waveq_beta' in res" || fail "waveq metrics"
grep -q "bits learned (ceil beta, from beta 8)" w/train.log || fail "WaveQ header: $(grep 'sinreq train:' w/train.log)"
# WaveQ learns the bitwidths and weighs its own term: bit and SinReQ settings
# would be ignored, so they are refused (the defaults, as config.yaml
# carries them, pass)
B="--data=data.h5 --out=wr --quantizer dorefa --waveq"
expect_rc 1 "--bits: --bits 5 has no effect under WaveQ" $T $B --bits 5
expect_rc 1 "--layer-bits: --layer-bits has no effect under WaveQ" $T $B --layer-bits conv1=3
expect_rc 1 "--sinreq-lambda: --sinreq-lambda has no effect under WaveQ" $T $B --sinreq-lambda 1
expect_rc 0 "" $T $B --bits 4 --sinreq-lambda 0 --max-steps 1 --diverge-factor 0 --max-abs-weight 0
finish
