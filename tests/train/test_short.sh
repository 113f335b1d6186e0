# Short experiments and what a run says while it goes: --train-limit,
# --test-limit, --val-limit (recorded, refused when changed on resume),
# --eval-every, --quick, plain progress lines off a terminal
# (--progress-every, total and ETA honour --max-steps), the epoch line's lr,
# lambda and time, --keep-last 0 / N / all.
. "$(dirname "$0")/lib.sh"
"$MKDS" data.h5 --train 128 --test 60 --val 40 || exit 2
R="$T --data data.h5"
json() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
nckpt() { ls "$1"/ckpt/ckpt-*.h5 2>/dev/null | wc -l; }

# 1. limits: 64 train images = 2 steps of 32 per epoch; recorded
$R --out lim --epochs 2 --train-limit 64 --test-limit 20 --val --val-limit 10 \
    || fail "limits rc $?"
"$PY" - <<'PY' || fail "limits recorded"
import json
r = json.load(open("lim/result.json"))
assert r["steps"] == 4, r["steps"]
assert (r["train_images"], r["test_images"], r["val_images"]) == (64, 20, 10), r
assert (r["train_limit"], r["test_limit"], r["val_limit"]) == (64, 20, 10), r
cfg = open("lim/config.yaml").read()
for k in ("train_limit: 64", "test_limit: 20", "val_limit: 10", "eval_every: 1"):
    assert k in cfg, k
PY
grep -q "short experiment: train on 64 of 128 images, test on 20 of 60" \
    lim/train.log || fail "train.log lacks the limits: $(head -5 lim/train.log)"
# the same limits, another seed: a run still trains on 64 images; a limit
# above the split takes it whole
$R --out lim-big --train-limit 1000 --test-limit 1000 || fail "big limit rc $?"
[ "$(json lim-big/result.json '["train_images"]')" = 128 ] \
    || fail "a limit above the split: $(json lim-big/result.json '["train_images"]')"
expect_rc 1 "train_limit" $R --out bad --train-limit -1
expect_rc 1 "fewer than one batch" $R --out bad --train-limit 16

# resume: a changed limit is refused, the same one continues exactly
$R --out res --epochs 2 --train-limit 64 --max-steps 1 --checkpoint-interval 1 \
    || fail "max-steps rc $?"
expect_rc 1 "train_limit" $R --out res --epochs 2 --train-limit 96 --resume auto
expect_rc 1 "test_limit" $R --out res --epochs 2 --train-limit 64 \
    --test-limit 30 --resume auto
$R --out res --epochs 2 --train-limit 64 --resume auto || fail "resume rc $?"
"$PY" - <<'PY' || fail "resumed run = uninterrupted one (steps.tsv)"
a = [l.split("\t")[2] for l in open("res/steps.tsv") if l[0].isdigit()]
b = [l.split("\t")[2] for l in open("lim/steps.tsv") if l[0].isdigit()]
assert len(a) == 4 and a == b, (a, b)
PY

# 2. --eval-every: test metrics only at every K-th epoch and the last
$R --out ev2 --epochs 3 --train-limit 64 --eval-every 2 || fail "eval-every 2 rc $?"
$R --out ev0 --epochs 3 --train-limit 64 --eval-every 0 || fail "eval-every 0 rc $?"
"$PY" - <<'PY' || fail "eval-every"
import json
for run, want in (("ev2", [False, True, True]), ("ev0", [False, False, True])):
    m = [json.loads(l) for l in open(run + "/metrics.jsonl")]
    got = [r["test_acc"] is not None for r in m]
    assert got == want, (run, got)
    r = json.load(open(run + "/result.json"))
    assert r["final_test_acc"] == m[-1]["test_acc"], r
PY
grep -q "test not evaluated (eval_every 2)" ev2/train.log \
    || fail "epoch line of an epoch without evaluation: $(grep ^epoch ev2/train.log)"
expect_rc 1 "eval_every" $R --out bad --eval-every -1

# 3. --quick: a smoke run, says what it set; keys given stay the user's
$R --out quick --quick --val || fail "quick rc $?"
grep -q -- "--quick (smoke run): set epochs 1, train_limit 2560, test_limit 1000, val_limit 1000" \
    quick/train.log || fail "quick: $(grep quick quick/train.log)"
grep -q "^quick: true" quick/config.yaml && grep -q "^train_limit: 2560" quick/config.yaml \
    || fail "quick: config.yaml lacks its keys"
$R --out quick2 --quick --epochs 2 --test-limit 30 || fail "quick 2 rc $?"
grep -q -- "--quick (smoke run): set train_limit 2560, val_limit 1000" quick2/train.log \
    || fail "quick with keys given: $(grep quick quick2/train.log)"
"$PY" -c 'import json; r = json.load(open("quick2/result.json")); assert r["epochs"] == 2 and r["test_images"] == 30, r' \
    || fail "quick with --epochs 2 --test-limit 30"
# the resolved config runs again as it is
$R --config quick/config.yaml --out quick3 || fail "quick config rc $?"

# 4. progress off a terminal: plain lines every N steps, total and ETA from
#    --max-steps (12 steps planned, 6 run)
P="$SINREQ train --batch 32 --lr 0.02 --hist-epochs= --data data.h5 --epochs 3"
$P --out prog --progress-every 2 --max-steps 6 2> prog.txt || fail "progress rc $?"
got=$(grep "^step " prog.txt | cut -d' ' -f2 | tr '\n' ' ')
[ "$got" = "2/6 4/6 6/6 " ] && ok "progress lines at $got" \
    || fail "progress lines: '$got': $(head -5 prog.txt)"
grep "^step 6/6 " prog.txt | grep -q "ETA 0m00s" || fail "ETA at the last step: $(grep '^step 6' prog.txt)"
grep "^step 2/6 " prog.txt | grep -Eq "epoch 1/3 loss [0-9.]+ acc [0-9.]+ [0-9]+ img/s ETA [0-9]+m[0-9]{2}s$" \
    || fail "progress line format: $(grep '^step 2' prog.txt)"
grep -q $'\r' prog.txt && fail "carriage returns in a log file"
# seconds: a tiny interval gives a line at every step
$P --out progs --progress-every 0.001s --max-steps 3 2> progs.txt || fail "progress s rc $?"
[ "$(grep -c '^step ' progs.txt)" = 3 ] || fail "--progress-every 0.001s: $(grep -c '^step ' progs.txt) lines"
$P --out progq --progress-every 1 --max-steps 3 --quiet 2> progq.txt || fail "quiet rc $?"
[ -s progq.txt ] && fail "--quiet printed: $(head -2 progq.txt)"
expect_rc 1 "progress_every" $R --out bad --progress-every 10x
expect_rc 1 "progress_every" $R --out bad --progress-every 0
# the epoch line: learning rate, lambda, the epoch's time
grep -Eq "^epoch 1/3: train loss .* \| lr 0\.02 lambda 0 \| [0-9]+m[0-9]{2}s, [0-9]+ img/s$" \
    prog.txt || fail "epoch line: $(grep '^epoch' prog.txt)"
# on a terminal (when script(1) is here): the total and the ETA honour
# --max-steps too
if command -v script > /dev/null; then
    script -qec "$P --out progt --max-steps 5 --epochs 50" /dev/null > tty.txt 2>&1 \
        || fail "terminal run rc $?"
    last=$(tr '\r' '\n' < tty.txt | grep "^.*step [0-9]*/" | sed 's/.*step //' | tail -1)
    case "$last" in
        "5/5 "*"ETA 0m00s"*) ok "terminal: $last" ;;
        *) fail "terminal progress: '$last'" ;;
    esac
fi

# 5. --keep-last: 0 keeps none after a finished run, N the newest N, all all
K="$R --epochs 2 --checkpoint-interval 1"
$K --out k0 --keep-last 0 || fail "keep-last 0 rc $?"
[ "$(nckpt k0)" = 0 ] && ok "keep-last 0: none left" || fail "keep-last 0 left $(nckpt k0)"
$K --out k2 --keep-last 2 || fail "keep-last 2 rc $?"
[ "$(nckpt k2)" = 2 ] && ok "keep-last 2: 2 left" || fail "keep-last 2 left $(nckpt k2)"
$K --out kall --keep-last all || fail "keep-last all rc $?"
[ "$(nckpt kall)" = 8 ] && ok "keep-last all: 8 left" || fail "keep-last all left $(nckpt kall)"
grep -q "^keep_last: all" kall/config.yaml || fail "config.yaml: $(grep keep_last kall/config.yaml)"
# the YAML keys: that config.yaml, one epoch
$R --config kall/config.yaml --out kyaml --epochs 1 || fail "keep_last: all from YAML rc $?"
[ "$(nckpt kyaml)" = 4 ] || fail "keep_last: all from YAML left $(nckpt kyaml)"
printf 'train_limit: 64\neval_every: 0\nkeep_last: 0\nprogress_every: 2s\n' > short.yaml
$R --config short.yaml --out kyaml0 --epochs 2 || fail "short.yaml rc $?"
[ "$(json kyaml0/result.json '["steps"]')" = 4 ] && [ "$(nckpt kyaml0)" = 0 ] \
    || fail "short.yaml: steps $(json kyaml0/result.json '["steps"]'), $(nckpt kyaml0) checkpoints"
grep -q "evaluation after the last epoch only" kyaml0/train.log || fail "eval_every 0 not logged"
expect_rc 1 "keep_last" $R --out bad --keep-last -1
expect_rc 1 "keep_last" $R --out bad --keep-last some
# 0 and an interrupted run: the newest is kept until the run finished
$K --out k0r --keep-last 0 --max-steps 3 || fail "keep-last 0 max-steps rc $?"
[ "$(nckpt k0r)" = 1 ] || fail "keep-last 0, stopped early: $(nckpt k0r) checkpoints"
SINREQ_TEST_STEP_SLEEP=0.3 $K --out k0r --keep-last 0 --resume auto &
pid=$!
for i in $(seq 100); do
    [ "$(grep -c . k0r/steps.tsv 2>/dev/null)" -ge 6 ] && break
    sleep 0.1
done
kill -TERM $pid; wait $pid; rc=$?
[ "$rc" = 3 ] && ok "SIGTERM -> 3" || fail "SIGTERM -> $rc, want 3"
[ "$(nckpt k0r)" = 1 ] || fail "keep-last 0 after SIGTERM: $(nckpt k0r) checkpoints"
$K --out k0r --keep-last 0 --resume auto || fail "resume rc $?"
grep -q "resuming from" k0r/train.log || fail "not resumed"
[ "$(nckpt k0r)" = 0 ] || fail "keep-last 0 after the finish: $(nckpt k0r)"
[ "$(json k0r/result.json '["steps"]')" = 8 ] || fail "resumed run steps"
finish
