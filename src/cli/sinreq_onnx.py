#!/usr/bin/env python3
"""sinreq-onnx: writes the ONNX model of `sinreq export --format onnx`.

    sinreq-onnx --export EXPORT.h5 --graph GRAPH.json --out MODEL.onnx

`sinreq export --format onnx` runs it with the network's export (quantized
layers as k-bit codes, docs/usage.md "sinreq export") and the network as
JSON (`sinreq info --json`'s format), both written by sinreq itself; it is
not meant to be run by hand.

The graph is opset 13. Input "images" [N][C][H][W] float32, already
normalised ((pixel / 255 - norm_mean) / norm_std, the values are in the
model's metadata_props); output "logits" [N][classes]. Quantized weights
are initializers holding the decoded levels (float32 values that are
exactly the quantizer's levels, decoded as sinreq decodes them). A layer
with k-bit activations reads
    Div(Floor(Add(Mul(Clip(x, 0, 1), L), 0.5)), L),   L = 2^k - 1
which is sinreq's round-half-away-from-zero of a non-negative value (ONNX
Round would round half to even).
"""
import argparse
import json
import os
import sys


def fail(msg, code=1):
    print("sinreq-onnx: " + msg, file=sys.stderr)
    sys.exit(code)


def decode(ds):
    """One /quantized/<layer> dataset to its float32 levels, as sinreq's
    reader decodes them (src/io/export_h5.c)."""
    import numpy as np
    bits = int(ds.attrs["bits"])
    numel = int(ds.attrs["numel"])
    shape = [int(d) for d in np.atleast_1d(ds.attrs["shape"])]
    quantizer = ds.attrs["quantizer"]
    if isinstance(quantizer, bytes):
        quantizer = quantizer.decode()
    words = ds[()].astype(np.uint64)
    pos = np.arange(numel, dtype=np.uint64)[:, None] * np.uint64(bits) + \
        np.arange(bits, dtype=np.uint64)[None, :]
    bit = (words[pos // np.uint64(32)] >> (pos % np.uint64(32))) & \
        np.uint64(1)
    codes = (bit << np.arange(bits, dtype=np.uint64)[None, :]).sum(axis=1)
    c = codes.astype(np.float32)
    if quantizer == "dorefa":
        mx = np.float32((1 << bits) - 1)
        v = np.float32(2) * (c / mx) - np.float32(1)
    elif quantizer == "wrpn":
        mx = np.float32((1 << (bits - 1)) - 1)
        v = (c - mx) / mx
    else:
        fail("%s: unknown quantizer '%s'" % (ds.name, quantizer))
    return v.astype(np.float32).reshape(shape)


def read_export(path):
    import h5py
    import numpy as np
    tensors = {}
    with h5py.File(path, "r") as f:
        meta = {k: f.attrs[k] for k in f.attrs}
        for k in f.get("float", {}):
            tensors[k] = np.asarray(f["float"][k][()], dtype=np.float32)
        for k in f.get("quantized", {}):
            ds = f["quantized"][k]
            t = ds.attrs["tensor"]
            tensors[t.decode() if isinstance(t, bytes) else t] = decode(ds)
    return meta, tensors


def build(graph, meta, tensors):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    used = set()

    def init(name):
        if name not in tensors:
            fail("tensor %s is missing from the export" % name)
        used.add(name)
        inits.append(numpy_helper.from_array(tensors[name], name))
        return name

    def const(name, value):
        inits.append(numpy_helper.from_array(
            np.array(value, dtype=np.float32), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    outs = {}
    for l in graph["layers"]:
        name, op = l["name"], l["op"]
        ins = [outs[i] if i is not None else "images" for i in l["inputs"]]
        x = ins[0]
        if l.get("act_bits", 0):
            lv = float((1 << l["act_bits"]) - 1)
            c = node("Clip", [x, const(name + ".act_lo", 0.0),
                              const(name + ".act_hi", 1.0)],
                     name + ".act_clip")
            m = node("Mul", [c, const(name + ".act_levels", lv)],
                     name + ".act_mul")
            h = node("Add", [m, const(name + ".act_half", 0.5)],
                     name + ".act_add")
            r = node("Floor", [h], name + ".act_floor")
            x = node("Div", [r, name + ".act_levels"], name + ".act_q")
        if op == "conv":
            k, s, p = l["kernel"], l["stride"], l["pad"]
            args = [x, init(name + ".weight")]
            if l["bias"]:
                args.append(init(name + ".bias"))
            y = node("Conv", args, name, kernel_shape=[k, k],
                     strides=[s, s], pads=[p, p, p, p])
        elif op == "linear":
            args = [x, init(name + ".weight")]
            if l["bias"]:
                args.append(init(name + ".bias"))
            y = node("Gemm", args, name, transB=1)
        elif op == "batchnorm":
            y = node("BatchNormalization",
                     [x] + [init(name + s) for s in (
                         ".weight", ".bias", ".running_mean",
                         ".running_var")],
                     name, epsilon=1e-5)
        elif op == "relu":
            y = node("Relu", [x], name)
        elif op == "dropout":
            y = node("Identity", [x], name)   # evaluation: no dropout
        elif op == "maxpool":
            k, s, p = l["kernel"], l["stride"], l["pad"]
            y = node("MaxPool", [x], name, kernel_shape=[k, k],
                     strides=[s, s], pads=[p, p, p, p])
        elif op == "avgpool":
            src = next(m for m in graph["layers"]
                       if m["name"] == l["inputs"][0]) \
                if l["inputs"][0] is not None else None
            ih, iw = (src["out"][1:] if src else graph["input"][1:])
            oh, ow = l["out"][1:]
            if oh == 1 and ow == 1:
                y = node("GlobalAveragePool", [x], name)
            elif ih % oh == 0 and iw % ow == 0:
                kh, kw = ih // oh, iw // ow
                y = node("AveragePool", [x], name, kernel_shape=[kh, kw],
                         strides=[kh, kw])
            else:
                fail("layer %s: adaptive average pooling from %dx%d to "
                     "%dx%d has uneven windows, which ONNX's AveragePool "
                     "cannot express" % (name, ih, iw, oh, ow))
        elif op == "add":
            y = node("Add", ins, name)
        elif op == "flatten":
            y = node("Flatten", [x], name, axis=1)
        else:
            fail("layer %s: op %s has no ONNX translation here" % (name, op))
        outs[name] = y
    left = sorted(set(tensors) - used)
    if left:
        fail("tensor(s) of the export no layer uses: %s" % ", ".join(left))
    nodes.append(helper.make_node("Identity", [outs[graph["output"]]],
                                  ["logits"], name="logits"))
    c, h, w = graph["input"]
    g = helper.make_graph(
        nodes, str(graph["net"]),
        [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                       ["N", c, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                       ["N", graph["classes"]])],
        initializer=inits)
    model = helper.make_model(
        g, producer_name="sinreq", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7   # what opset 13 came with; older runtimes read it

    def text(v):
        if isinstance(v, bytes):
            return v.decode()
        if hasattr(v, "tolist"):
            return json.dumps(v.tolist())
        return str(v)
    for k in ("net", "quantizer", "act_bits", "norm_mean", "norm_std",
              "sinreq_version"):
        if k in meta:
            p = model.metadata_props.add()
            p.key, p.value = k, text(meta[k])
    return model


def main():
    ap = argparse.ArgumentParser(prog="sinreq-onnx")
    ap.add_argument("--export", required=True)
    ap.add_argument("--graph", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:
        import onnx
        import h5py  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        fail("%s: --format onnx needs python3-onnx, python3-h5py and "
             "python3-numpy" % e, 2)
    with open(a.graph) as f:
        graph = json.load(f)
    meta, tensors = read_export(a.export)
    model = build(graph, meta, tensors)
    onnx.checker.check_model(model)
    tmp = a.out + ".tmp"
    try:
        onnx.save(model, tmp)
        os.replace(tmp, a.out)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        fail("cannot write %s: %s" % (a.out, e), 2)


if __name__ == "__main__":
    main()
