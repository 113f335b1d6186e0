"""PyTorch weights in, ONNX out (docs/usage.md), on real CIFAR-10 images.

    test_interop.py torch|onnx WORKDIR

Environment: SINREQ, PREP (sinreq-prep), TORCH2MODEL (sinreq-torch2model);
sinreq-onnx is found beside SINREQ. The images: 10 per class of the
CIFAR-10 JPEG copy's test set (and 20 per class of its training set, for
the short fine-tuning of the onnx case), converted with sinreq-prep; the
copy is $SR_CIFAR10_JPEG, else <checkout>/../shared/data/
cifar10-jpeg.tar.gz; without it the test is skipped (exit 77).

torch: a PyTorch cifar10net (an nn.Sequential: matched by order) and a
resnet20 (own names for its stem and classifier: matched with a --map;
BN statistics randomised), randomly initialised, converted; sinreq eval's
logits (--dump-logits, float32, eval-mode BN) must be PyTorch's to float
tolerance. Then the converter's refusals: a shape mismatch names the layer.

onnx: the converted models fine-tuned quantized for one short epoch
(cifar10net WRPN 4 bits with 4-bit activations, resnet20 DoReFa 3 bits
with 4-bit activations, and resnet20 DoReFa 3 bits weights only), exported
with --format onnx, checked by onnx.checker and shape inference, and
evaluated by tests/interop/onnx_ref.py (numpy, no sinreq code) against
sinreq eval's logits of the same model file.
"""
import json
import os
import subprocess
import sys
import tarfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SINREQ = os.environ["SINREQ"]
PREP = os.environ["PREP"]
TORCH2MODEL = os.environ["TORCH2MODEL"]
MEAN, STD = "0.4914,0.4822,0.4465", "0.2470,0.2435,0.2616"
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def run(*cmd, expect=0):
    r = subprocess.run(list(cmd), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode != expect:
        print(r.stdout + r.stderr)
        raise SystemExit("FAIL: exit %d (expected %d): %s" % (
            r.returncode, expect, " ".join(cmd)))
    return r


def real_data(work):
    tarball = os.environ.get("SR_CIFAR10_JPEG") or os.path.join(
        HERE, "..", "..", "..", "shared", "data", "cifar10-jpeg.tar.gz")
    if not os.path.isfile(tarball):
        print("SKIP: no CIFAR-10 JPEG copy (set SR_CIFAR10_JPEG to "
              "cifar10-jpeg.tar.gz, or put it at <checkout>/../shared/data/)")
        sys.exit(77)
    out = os.path.join(work, "real.h5")
    jpeg = os.path.join(work, "jpeg")
    with tarfile.open(tarball) as t:
        want = [m for m in t.getmembers() if m.isfile() and (
            (m.name.startswith("test/") and
             os.path.basename(m.name) < "0010.jpg") or
            (m.name.startswith("train/") and
             os.path.basename(m.name) < "0020.jpg"))]
        t.extractall(jpeg, members=want)
    run(PREP, "images", jpeg, "--size", "32", "-o", out, "--force",
        "--quiet")
    return out


def images(data):
    """The test split as sinreq's loader feeds it (float32 of the
    double-precision normalisation, src/data/transform.c)."""
    with h5py.File(data, "r") as f:
        x = f["test/images"][()].astype(np.float64)
    m = np.array([float(v) for v in MEAN.split(",")], np.float32)
    s = np.array([float(v) for v in STD.split(",")], np.float32)
    m = m.astype(np.float64)[None, :, None, None]
    s = s.astype(np.float64)[None, :, None, None]
    return ((x / 255.0 - m) / s).astype(np.float32)


def sinreq_logits(model, data, work, tag):
    path = os.path.join(work, tag + ".logits.h5")
    run(SINREQ, "eval", "--model", model, "--data", data, "--batch", "32",
        "--threads", "2", "--dump-logits", path)
    with h5py.File(path, "r") as f:
        check(f.attrs["format"] == "sinreq-logits", tag + ": logits file "
              "format attribute")
        return f["logits"][()], f["labels"][()]


def compare(tag, got, want, rtol):
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got.astype(np.float64) - want).max())
    check(got.shape == want.shape and err <= rtol * scale,
          "%s: %s logits, max |diff| %.3g (tolerance %.3g)" % (
              tag, got.shape, err, rtol * scale))


def act_quant_agree(tag, got, want, margin):
    """With quantized activations an activation within float32 rounding of
    a level boundary may round the other way here than in sinreq (other
    summation orders), and the image's logits then move by a fraction of a
    level. Every image must match to float tolerance unless the reference
    saw such an activation (margin below 1e-4 of a level step), and most
    must match: a wrong op would move every image."""
    scale = max(1.0, float(np.abs(want).max()))
    err = np.abs(got.astype(np.float64) - want).max(axis=1)
    off = err > 1e-5 * scale
    unexplained = off & (margin >= 1e-4)
    check(got.shape == want.shape and off.mean() <= 0.3 and
          not unexplained.any() and err.max() <= 0.1 * scale,
          "%s (numpy ONNX vs sinreq): %d of %d images to 1e-5 relative "
          "(median |diff| %.3g), the other %d each with an activation within "
          "%.2g of a level boundary, max |diff| %.3g" % (
              tag, int((~off).sum()), len(err), float(np.median(err)),
              int(off.sum()), float(margin[off].max()) if off.any() else 0,
              float(err.max())))
    check((got.argmax(1) == want.argmax(1)).mean() >= 0.95,
          "%s: top-1 class agrees on %.0f%% of the images" % (
              tag, 100 * (got.argmax(1) == want.argmax(1)).mean()))


def convert(work, name, net, model, mapping=None):
    import torch
    sd = os.path.join(work, name + ".pt")
    torch.save(model.state_dict(), sd)
    out = os.path.join(work, name + ".h5")
    cmd = [TORCH2MODEL, "--sinreq", SINREQ, "--net", net, "--state-dict", sd,
           "--out", out, "--norm-mean", MEAN, "--norm-std", STD, "--force"]
    if mapping:
        mp = os.path.join(work, name + ".map.json")
        with open(mp, "w") as f:
            json.dump(mapping, f)
        cmd += ["--map", mp]
    print(run(*cmd).stdout.strip())
    return out, sd


def nets(work):
    import torch
    import torch_nets
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(2)
    c10 = torch_nets.cifar10net().eval()
    r20 = torch_nets.ResNet20().eval()
    torch_nets.randomise_bn(r20, gen)
    return [("cifar10net", "cifar10net", c10, None),
            ("resnet20", os.path.join(HERE, "..", "..", "nets",
                                      "resnet20.yaml"), r20,
             torch_nets.RESNET20_MAP)]


def case_torch(work, data):
    import torch
    import torch_nets
    x = images(data)
    for name, net, model, mapping in nets(work):
        h5, sd = convert(work, name, net, model, mapping)
        got, labels = sinreq_logits(h5, data, work, name)
        with torch.no_grad():
            want = model(torch.from_numpy(x)).double().numpy()
        check(len(labels) == len(x), "%s: %d labels" % (name, len(labels)))
        compare(name + " (sinreq vs PyTorch)", got, want, 1e-5)
        # a permuted or otherwise wrong mapping must show: swapped BN
        # statistics are not within tolerance (the comparison can fail)
        if name == "resnet20":
            with torch.no_grad():
                bn = model.layer2[1].bn1
                bn.running_mean.copy_(bn.running_mean.flip(0))
                other = model(torch.from_numpy(x)).double().numpy()
            err = float(np.abs(got - other).max())
            check(err > 1e-3 * max(1.0, float(np.abs(other).max())),
                  "resnet20: one flipped running_mean moves the logits "
                  "by %.3g" % err)

    # refusals: exit 1, the layer named
    bad = torch_nets.cifar10net(fc1_out=100)
    sd = os.path.join(work, "bad.pt")
    torch.save(bad.state_dict(), sd)
    r = run(TORCH2MODEL, "--sinreq", SINREQ, "--net", "cifar10net",
            "--state-dict", sd, "--out", os.path.join(work, "bad.h5"),
            "--norm-mean", MEAN, "--norm-std", STD, expect=1)
    check("layer fc1: tensor fc1.weight is 120x400 in sinreq but PyTorch's "
          "7.weight is 100x400" in r.stderr,
          "shape mismatch by order names the layer: " + r.stderr.strip())
    check(not os.path.exists(os.path.join(work, "bad.h5")),
          "nothing written on a refusal")
    r20 = torch_nets.ResNet20()
    torch.save(r20.state_dict(), sd)
    mp = os.path.join(work, "bad.map.json")
    with open(mp, "w") as f:
        json.dump({"stem": "conv1", "classifier": "fc"}, f)
    r = run(TORCH2MODEL, "--sinreq", SINREQ, "--net", nets(work)[1][1],
            "--state-dict", sd, "--out", os.path.join(work, "bad.h5"),
            "--map", mp, "--norm-mean", MEAN, "--norm-std", STD, expect=1)
    check("layer bn1: no PyTorch tensor for bn1.weight" in r.stderr,
          "an incomplete map names the missing tensor: " + r.stderr.strip())
    r = run(TORCH2MODEL, "--sinreq", SINREQ, "--net", "cifar10net",
            "--state-dict", sd, "--out", os.path.join(work, "bad.h5"),
            "--norm-mean", MEAN, "--norm-std", STD, expect=1)
    check("by order: the state_dict has" in r.stderr,
          "another network's state_dict is refused: " + r.stderr.strip())


def case_onnx(work, data):
    import onnx
    import onnx_ref
    x = images(data)
    runs = [("cifar10net", ["--quantizer", "wrpn", "--bits", "4",
                            "--act-bits", "4"]),
            ("resnet20", ["--quantizer", "dorefa", "--bits", "3",
                          "--act-bits", "4"]),
            ("resnet20", ["--quantizer", "dorefa", "--bits", "3"])]
    made = {}
    for name, net, model, mapping in nets(work):
        made[name] = (net, convert(work, name, net, model, mapping)[0])
    for i, (name, q) in enumerate(runs):
        net, init = made[name]
        tag = "%s-%s-%s" % (name, q[1], "a4" if "--act-bits" in q else "a0")
        out = os.path.join(work, tag)
        run(SINREQ, "train", "--net", net, "--init", init, "--data", data,
            "--epochs", "1", "--batch", "50", "--lr", "0.005", "--threads",
            "2", "--quiet", "--hist-epochs=", "--force", "--out", out, *q)
        model_h5 = os.path.join(out, "model.h5")
        path = os.path.join(work, tag + ".onnx")
        r = run(SINREQ, "export", "--format", "onnx", "--model", model_h5,
                "--out", path, "--force")
        print(r.stdout.strip())
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        dims = [d.dim_param or d.dim_value for d in
                inferred.graph.output[0].type.tensor_type.shape.dim]
        check(m.opset_import[0].version == 13 and dims == ["N", 10],
              "%s: checker and strict shape inference pass, opset 13, "
              "logits %s" % (tag, dims))
        ops = {n.op_type for n in m.graph.node}
        check(("Floor" in ops) == ("--act-bits" in q),
              "%s: activation quantization nodes present iff --act-bits "
              "(%s)" % (tag, ", ".join(sorted(ops))))
        # weights are the quantized levels: few distinct values per layer
        levels = 2 ** int(q[3])
        for t in m.graph.initializer:
            if t.name.endswith(".weight") and len(t.dims) == 4 and \
                    t.dims[1] > 3:
                v = onnx.numpy_helper.to_array(t)
                check(len(np.unique(v)) <= levels,
                      "%s: %s holds %d distinct values (<= %d levels)" % (
                          tag, t.name, len(np.unique(v)), levels))
                break
        want, _ = sinreq_logits(model_h5, data, work, tag)
        margin = np.full(len(x), np.inf)
        got = onnx_ref.run(m, x, margin)
        if "--act-bits" not in q:
            compare(tag + " (numpy ONNX vs sinreq)", got, want, 1e-5)
        else:
            act_quant_agree(tag, got, want, margin)
        check(float(np.abs(want).max()) > 0 and np.isfinite(want).all(),
              "%s: finite, non-zero logits" % tag)
    r = run(SINREQ, "export", "--format", "onnx", "--model", model_h5,
            "--out", path, expect=1)
    check("exists; --force replaces it" in r.stderr,
          "an existing ONNX output is kept without --force")
    r = run(SINREQ, "export", "--format", "tflite", "--model", model_h5,
            "--out", path + ".x", expect=1)
    check("unknown --format 'tflite'" in r.stderr, "unknown format refused")


def main():
    case, work = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    data = real_data(work)
    {"torch": case_torch, "onnx": case_onnx}[case](work, data)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
