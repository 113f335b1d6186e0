"""A minimal ONNX interpreter in numpy (float64) for the ops sinreq's ONNX
export emits: an evaluation that shares no code with sinreq."""
import numpy as np
from onnx import numpy_helper


def _pads(node, default=0):
    p = node.get("pads", [default] * 4)
    return p[0], p[1], p[2], p[3]   # top, left, bottom, right


def _windows(x, kh, kw, sh, sw, pads, fill):
    n, c, h, w = x.shape
    t, l, b, r = pads
    xp = np.full((n, c, h + t + b, w + l + r), fill, dtype=x.dtype)
    xp[:, :, t:t + h, l:l + w] = x
    oh = (h + t + b - kh) // sh + 1
    ow = (w + l + r - kw) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
    return cols, oh, ow


def conv(x, w, b, a):
    kh, kw = w.shape[2:]
    sh, sw = a.get("strides", [1, 1])
    cols, oh, ow = _windows(x, kh, kw, sh, sw, _pads(a), 0.0)
    n = x.shape[0]
    y = np.einsum("ncijhw,kcij->nkhw", cols, w, optimize=True)
    if b is not None:
        y = y + b[None, :, None, None]
    return y.reshape(n, w.shape[0], oh, ow)


def maxpool(x, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    cols, _, _ = _windows(x, kh, kw, sh, sw, _pads(a), -np.inf)
    return cols.max(axis=(2, 3))


def avgpool(x, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    if any(_pads(a)):
        raise ValueError("AveragePool with pads is not interpreted here")
    cols, _, _ = _windows(x, kh, kw, sh, sw, (0, 0, 0, 0), 0.0)
    return cols.mean(axis=(2, 3))


def run(model, images, margin=None):
    """Logits of model (an onnx.ModelProto) for images [N][C][H][W].
    margin (an array [N], may be None) gets, per image, the smallest
    distance of any Floor argument to an integer: how close the image came
    to an activation rounding the other way."""
    g = model.graph
    env = {t.name: numpy_helper.to_array(t).astype(np.float64)
           for t in g.initializer}
    env[g.input[0].name] = images.astype(np.float64)
    for node in g.node:
        a = {}
        for at in node.attribute:
            if at.ints:
                a[at.name] = list(at.ints)
            elif at.type == at.FLOAT:
                a[at.name] = at.f
            else:
                a[at.name] = at.i
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            y = conv(x[0], x[1], x[2] if len(x) > 2 else None, a)
        elif op == "Gemm":
            assert a.get("transB", 0) == 1 and not a.get("transA", 0)
            y = x[0] @ x[1].T + (x[2] if len(x) > 2 else 0.0)
        elif op == "BatchNormalization":
            s, bias, mean, var = (v[None, :, None, None] for v in x[1:5])
            y = (x[0] - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * s \
                + bias
        elif op == "Relu":
            y = np.maximum(x[0], 0.0)
        elif op == "MaxPool":
            y = maxpool(x[0], a)
        elif op == "AveragePool":
            y = avgpool(x[0], a)
        elif op == "GlobalAveragePool":
            y = x[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            assert a.get("axis", 1) == 1
            y = x[0].reshape(x[0].shape[0], -1)
        elif op == "Add":
            y = x[0] + x[1]
        elif op == "Mul":
            y = x[0] * x[1]
        elif op == "Div":
            y = x[0] / x[1]
        elif op == "Floor":
            y = np.floor(x[0])
            if margin is not None:
                f = x[0] - y
                d = np.minimum(f, 1.0 - f).reshape(len(f), -1).min(axis=1)
                margin[:] = np.minimum(margin, d)
        elif op == "Clip":
            y = np.clip(x[0], x[1], x[2])
        elif op == "Identity":
            y = x[0]
        else:
            raise ValueError("op %s is not interpreted here" % op)
        env[node.output[0]] = y
    return env[g.output[0].name]
