# The version of the program that wrote a file: `sinreq --version` prints
# "sinreq V"; V is the root attribute sinreq_version of the model, every
# checkpoint, the histograms and the export file, and "sinreq_version" in
# result.json. Files without the attribute (written before it existed) are
# still read: eval, info, export and resume.
. "$(dirname "$0")/lib.sh"
small_data
ver=$($SINREQ --version) || fail "sinreq --version rc $?"
v=${ver#sinreq }
[ "$ver" = "sinreq $v" ] && [ -n "$v" ] && [ "${v#* }" = "$v" ] ||
    fail "sinreq --version printed '$ver', not 'sinreq VERSION'"
[ "$($SINREQ version)" = "$ver" ] || fail "sinreq version differs from --version"
ok "sinreq --version: $ver"

$SINREQ train --data data.h5 --out run --epochs 2 --batch 32 --lr 0.02 \
    --quantizer wrpn --bits 4 --sinreq-lambda 1 --checkpoint-interval 2 \
    --keep-last 10 --hist-epochs 0,last --quiet || fail "train rc $?"
$SINREQ export --model run/model.h5 --out export.h5 > /dev/null || fail "export rc $?"
ls run/ckpt/*.h5 > /dev/null 2>&1 || fail "no checkpoint in run/ckpt"

V="$v" "$PY" - <<'PY' || fail "version attribute / key"
import glob, json, os, h5py
v = os.environ["V"]
files = ["run/model.h5", "run/histograms.h5", "export.h5"] + sorted(glob.glob("run/ckpt/*.h5"))
assert len(files) > 3, files
for p in files:
    with h5py.File(p, "r") as f:
        assert "sinreq_version" in f.attrs, (p, "no sinreq_version")
        got = f.attrs["sinreq_version"]
        got = got.decode() if isinstance(got, bytes) else str(got)
        assert got == v, (p, got, v)
res = json.load(open("run/result.json"))
assert res.get("sinreq_version") == v, (res.get("sinreq_version"), v)
print("%d files and result.json carry %s" % (len(files), v))
PY
ok "sinreq_version in model, histograms, export, checkpoints, result.json"

# Older files: the same without the attribute.
"$PY" - <<'PY' || fail "removing the attribute"
import glob, shutil, h5py
shutil.copy("run/model.h5", "old_model.h5")
shutil.copy("export.h5", "old_export.h5")
for p in ["old_model.h5", "old_export.h5"] + glob.glob("run/ckpt/*.h5"):
    with h5py.File(p, "r+") as f:
        del f.attrs["sinreq_version"]
PY
$SINREQ eval --model old_model.h5 --data data.h5 > /dev/null || fail "eval of a model without sinreq_version"
$SINREQ info old_model.h5 > /dev/null || fail "info of a model without sinreq_version"
$SINREQ eval --model old_export.h5 --data data.h5 > /dev/null || fail "eval of an export without sinreq_version"
$SINREQ export --model old_model.h5 --out old_export2.h5 > /dev/null || fail "export of a model without sinreq_version"
# resume from the oldest checkpoint (the rest of the run removed)
ls run/ckpt/*.h5 | sort | tail -n +2 | xargs rm -f
rm -f run/model.h5 run/result.json
$SINREQ train --data data.h5 --out run --epochs 2 --batch 32 --lr 0.02 \
    --quantizer wrpn --bits 4 --sinreq-lambda 1 --checkpoint-interval 2 \
    --keep-last 10 --hist-epochs 0,last --quiet --resume auto > resume.txt 2>&1 ||
    fail "resume from a checkpoint without sinreq_version: $(tail -2 resume.txt)"
grep -q "resum" run/train.log || fail "train.log does not mention the resume"
[ -s run/result.json ] || fail "the resumed run wrote no result.json"
ok "files without sinreq_version are read"
finish
