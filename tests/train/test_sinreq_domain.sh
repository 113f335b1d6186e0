# --sinreq-domain (docs/method.md, SinReQ): w (default) or x, DoReFa's rounding
# variable. Bad values and x with WRPN or WaveQ are usage errors; the choice
# is recorded in config.yaml and result.json; it reaches the training step
# (with lambda 0 the weights train identically in both domains, but the
# logged R_l is each domain's own), and lambda > 0 lowers R_l in domain x.
# resnet20 (BN): DoReFa's levels in +-1 blow up a BN-free net from scratch.
# No momentum and lr lambda = 0.4: R_l's curvature in the 2304-weight layers
# would make larger steps overshoot the period.
. "$(dirname "$0")/lib.sh"
small_data
B="--data data.h5 --out r --epochs 1"
expect_rc 1 "unknown sinreq_domain 'y'" $T $B --quantizer dorefa --sinreq-domain y
expect_rc 1 "WRPN rounds W itself" $T $B --quantizer wrpn --sinreq-lambda 1 \
    --sinreq-domain x
expect_rc 1 "WaveQ's term is on W" $T $B --quantizer dorefa --waveq \
    --sinreq-domain x
printf 'quantizer: wrpn\nsinreq_domain: x\n' > wrpn_x.yaml
expect_rc 1 "wrpn_x.yaml:2" $T $B --config wrpn_x.yaml
[ ! -e r ] || fail "a failed start created the run directory"

# A run directory from before sinreq_domain existed (its config.yaml lacks
# the key) resumes at the default, not with another domain.
$T --data data.h5 --out old --epochs 1 --max-steps 1 || fail "old run rc $?"
rm -rf old/ckpt
grep -v '^sinreq_domain:' old/config.yaml > old.yaml && cp old.yaml old/config.yaml
$T --data data.h5 --out old --epochs 1 --max-steps 1 --resume auto \
    || fail "resume without the key at its default rc $?"
rm -rf old/ckpt && cp old.yaml old/config.yaml
expect_rc 1 'sinreq_domain: (missing) (then) vs "x"' $T --data data.h5 \
    --out old --epochs 1 --max-steps 1 --resume auto --sinreq-domain x

R="$T --data data.h5 --epochs 2 --net resnet20 --quantizer dorefa --bits 4 \
   --lr 0.01 --momentum 0"
$R --out x0 --sinreq-domain x || fail "domain x lambda 0 rc $?"
$R --out w0 || fail "domain w lambda 0 rc $?"
$R --out x40 --sinreq-domain x --sinreq-lambda 40 || fail "domain x lambda 40 rc $?"
grep -q '^sinreq_domain: "x"$' x40/config.yaml || fail "config.yaml lacks sinreq_domain x"
grep -q '^sinreq_domain: "w"$' w0/config.yaml || fail "config.yaml lacks the default sinreq_domain w"
"$PY" - <<'PY' || fail "domain checks"
import json
def last(d):
    return [json.loads(l) for l in open(d + "/metrics.jsonl")][-1]
def steps(d):
    return open(d + "/steps.tsv").read()
assert json.load(open("x40/result.json"))["sinreq_domain"] == "x"
assert json.load(open("w0/result.json"))["sinreq_domain"] == "w"
# lambda 0: the same training, whichever domain R_l is measured in
assert steps("x0") == steps("w0"), "lambda 0 runs differ between domains"
rx = [l["R"] for l in last("x0")["layers"]]
rw = [l["R"] for l in last("w0")["layers"]]
assert rx != rw, "R_l is the same in both domains: the domain is not used"
# lambda 40 in domain x pulls x towards DoReFa's rounding points
r40 = [l["R"] for l in last("x40")["layers"]]
m0, m40 = sum(rx) / len(rx), sum(r40) / len(r40)
q0 = sum(l["qerr"] for l in last("x0")["layers"]) / len(rx)
q40 = sum(l["qerr"] for l in last("x40")["layers"]) / len(rx)
print("domain x, %d layers: mean R_l %.4f (lambda 0) -> %.4f (lambda 40); "
      "mean qerr %.4f -> %.4f" % (len(rx), m0, m40, q0, q40))
assert m40 < 0.9 * m0, (m0, m40)
PY
finish
