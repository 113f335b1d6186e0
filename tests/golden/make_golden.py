#!/usr/bin/env python3
"""Golden values for tests/golden/test_golden.c: one training step of
cifar10net and resnet20, written from PyTorch's own definitions.

Each network is built with torch.nn modules named like sinreq's parameters
(src/models/models.c transcribes the same reference models), with
  - DoReFa weight quantization, k = 4 bits, on the layers sinreq quantizes
    by default (cifar10net: all; resnet20: all but the first conv and the
    last linear), straight-through on round only;
  - the SinReQ term on the raw weights, mean over each quantized layer,
    summed over layers, times a fixed lambda;
  - batch norm in training mode (batch statistics);
  - one torch.optim.SGD step with momentum (from a non-zero buffer, so the
    momentum term is visible) and weight decay on every tensor.

Everything is computed in float64 from float32 inputs and weights, so the
values are exact to ~1e-15 and the C test's tolerance only has to cover
sinreq's own float32 arithmetic.

Usage: make_golden.py OUT.h5 [--seed N]
"""
import argparse
import math
import sys

try:
    import numpy as np
    import h5py
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    sys.exit(f"make_golden.py: {e}; the golden test needs python3-torch, "
             "python3-h5py and python3-numpy (install-deps.sh installs "
             "them)")

BITS = 4
LAMBDA = 2.0
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
BN_EPS = 1e-5
BN_MOMENTUM = 0.1
# DoReFa's round() sees (2^k - 1) x; a weight whose value lies within this
# distance of a rounding boundary (k + 1/2) is moved away from it. float32
# tanh and division move that value by ~1e-5 at most, so without the margin
# sinreq could pick the neighbouring level for a weight, a 2/15 jump that no
# tolerance should cover.
ROUND_MARGIN = 2e-3
# Every ReLU input and max-pool runner-up gap stays this far from its kink,
# relative to the rms of that layer's input: 2x the largest float32 error
# of a ReLU input seen in these nets (PyTorch float32 vs float64 at 32x32,
# batch 4: 1e-6 at the first layers, up to 1.4e-5 at resnet20's last).
KINK_MARGIN = 3e-5


def round_half_away(v):
    """sinreq's rule (docs/design.md, Numerics): sign(v) floor(|v| + 1/2).
    PyTorch's round() is half-to-even; the two differ only at exact ties,
    which ROUND_MARGIN keeps away."""
    return torch.sign(v) * torch.floor(v.abs() + 0.5)


def dorefa_weights(w, k):
    """DoReFa (Zhou et al. 2016): x = tanh(W) / (2 max|tanh W|) + 1/2,
    Wq = 2 round((2^k - 1) x) / (2^k - 1) - 1. The gradient flows through
    tanh and the max; round alone is straight-through."""
    levels = 2 ** k - 1
    t = torch.tanh(w)
    x = t / (2 * t.abs().max()) + 0.5
    xq = round_half_away(levels * x) / levels
    return 2 * (x + (xq - x).detach()) - 1


def sinreq_term(w, k):
    """SinReQ for DoReFa, on W: mean_j sin^2(pi (w_j + s) / D), D =
    2 / (2^k - 1), s = D / 2, so the minima are DoReFa's levels
    (2i - (2^k - 1)) / (2^k - 1)."""
    period = 2.0 / (2 ** k - 1)
    shift = period / 2
    return torch.sin(math.pi * (w + shift) / period).pow(2).mean()


class QuantConv2d(nn.Conv2d):
    quantized = False

    def forward(self, x):
        w = dorefa_weights(self.weight, BITS) if self.quantized else self.weight
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


class QuantLinear(nn.Linear):
    quantized = False

    def forward(self, x):
        w = dorefa_weights(self.weight, BITS) if self.quantized else self.weight
        return F.linear(x, w, self.bias)


def batchnorm(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class Cifar10Net(nn.Module):
    """Distiller's simplenet_cifar."""

    def __init__(self):
        super().__init__()
        self.conv1 = QuantConv2d(3, 6, 5)
        self.relu_conv1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = QuantConv2d(6, 16, 5)
        self.relu_conv2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = QuantLinear(16 * 5 * 5, 120)
        self.relu_fc1 = nn.ReLU()
        self.fc2 = QuantLinear(120, 84)
        self.relu_fc2 = nn.ReLU()
        self.fc3 = QuantLinear(84, 10)

    def forward(self, x):
        x = self.pool1(self.relu_conv1(self.conv1(x)))
        x = self.pool2(self.relu_conv2(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.relu_fc1(self.fc1(x))
        x = self.relu_fc2(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """Distiller's resnet_cifar block: conv3x3-bn-relu-conv3x3-bn, + the
    shortcut (1x1 conv + BN where the shape changes), relu."""

    def __init__(self, in_c, c, stride):
        super().__init__()
        self.conv1 = QuantConv2d(in_c, c, 3, stride, 1, bias=False)
        self.bn1 = batchnorm(c)
        self.relu1 = nn.ReLU()
        self.conv2 = QuantConv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = batchnorm(c)
        self.relu2 = nn.ReLU()
        self.downsample = None
        if stride != 1 or in_c != c:
            self.downsample = nn.Sequential(
                QuantConv2d(in_c, c, 1, stride, 0, bias=False), batchnorm(c))

    def forward(self, x):
        s = x if self.downsample is None else self.downsample(x)
        y = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(y)) + s)


class ResNet20(nn.Module):
    """Distiller's resnet_cifar, 3 stages x 3 blocks."""

    def __init__(self):
        super().__init__()
        self.conv1 = QuantConv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = batchnorm(16)
        self.relu = nn.ReLU()
        in_c = 16
        for stage in range(3):
            c = 16 << stage
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(in_c, c, 2 if b == 0 and stage else 1))
                in_c = c
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = QuantLinear(64, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def weight_layers(net):
    return [(n, m) for n, m in net.named_modules()
            if isinstance(m, (QuantConv2d, QuantLinear))]


def set_plan(net, ends_fp):
    """The authors' rule: with ends_fp the first conv and the last linear
    stay float32."""
    layers = weight_layers(net)
    for i, (_, m) in enumerate(layers):
        m.quantized = not (ends_fp and (i == 0 or i == len(layers) - 1))


def keep_off_boundaries(w):
    """Move weights whose DoReFa pre-round value (2^k - 1) x lies within
    ROUND_MARGIN of a boundary k + 1/2 away from it (see ROUND_MARGIN).
    The layer's max|tanh w| sits at x = 0 or 1, on a level, so it is never
    moved and the others' x keep their scale."""
    levels = 2 ** BITS - 1
    for _ in range(10):
        wd = w.astype(np.float64)
        t = np.tanh(wd)
        m = np.abs(t).max()
        pre = levels * (t / (2 * m) + 0.5)
        frac = pre - np.floor(pre)
        near = np.abs(frac - 0.5) < ROUND_MARGIN
        if not near.any():
            return w
        # d pre / d w = levels (1 - t^2) / (2 m); step 2 margins away
        slope = levels * (1 - t * t) / (2 * m)
        step = 2 * ROUND_MARGIN / slope * np.where(frac < 0.5, -1.0, 1.0)
        w = np.where(near, wd + step, wd).astype(np.float32)
    sys.exit("make_golden.py: could not move weights off DoReFa's rounding "
             "boundaries")


def init_params(net, rng, spec):
    """float32 parameters: PyTorch's default ranges U(-1/sqrt(fan_in), +),
    BN affine parameters and running statistics away from their defaults
    (1, 0, 0, 1) so that a missing or swapped term shows; spec["scale"]
    multiplies the tensors it names. Returns {name: float32 array},
    running statistics included."""
    params = {}
    for name, t in net.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        shape = tuple(t.shape)
        layer = net.get_submodule(name.rsplit(".", 1)[0])
        if name.endswith("running_mean"):
            v = rng.uniform(-0.5, 0.5, shape)
        elif name.endswith("running_var"):
            v = rng.uniform(0.5, 2.0, shape)
        elif isinstance(layer, nn.BatchNorm2d):
            v = (rng.uniform(0.5, 1.5, shape) if name.endswith("weight")
                 else rng.uniform(-0.3, 0.3, shape))
        else:
            fan_in = layer.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            v = rng.uniform(-bound, bound, shape)
        params[name] = v.astype(np.float32)
    for name, factor in spec.get("scale", {}).items():
        params[name] = (params[name] * factor).astype(np.float32)
    for name, m in weight_layers(net):
        if m.quantized:
            key = name + ".weight"
            params[key] = keep_off_boundaries(params[key])
    return params


def kink_margins(net, x):
    """How close PyTorch's pass comes to a decision float32 could take the
    other way: the smallest |input| of every ReLU, and the smallest gap
    between the top two values of a max-pool window (windows of zeros
    excepted: their gradient is stopped by the ReLU before), each relative
    to the rms of that layer's input."""
    worst = {"relu": math.inf, "maxpool": math.inf}

    def hook(mod, inp, out):
        v = inp[0].detach()
        rms = v.pow(2).mean().sqrt().item()
        if isinstance(mod, nn.ReLU):
            worst["relu"] = min(worst["relu"], v.abs().min().item() / rms)
            return
        cols = F.unfold(v.flatten(0, 1).unsqueeze(1), mod.kernel_size,
                        stride=mod.stride)
        top = cols.topk(2, dim=1).values
        gap = (top[:, 0] - top[:, 1])[top[:, 0] > 0]
        if gap.numel():
            worst["maxpool"] = min(worst["maxpool"], gap.min().item() / rms)

    hooks = [m.register_forward_hook(hook) for m in net.modules()
             if isinstance(m, (nn.ReLU, nn.MaxPool2d))]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return worst


def load(net, params):
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float64))
                         for k, v in params.items()}, strict=False)


def draw(net, spec, rng):
    """float32 parameters, momentum buffers and a batch for one attempt."""
    n, c, h, w = spec["input"]
    params = init_params(net, rng, spec)
    mom0 = {k: rng.uniform(-1e-3, 1e-3, tuple(p.shape)).astype(np.float32)
            for k, p in net.named_parameters()}
    x = (rng.standard_normal((n, c, h, w)) *
         spec.get("input_scale", 1.0)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    return params, mom0, x, y


def golden(name, net, spec, rng, f):
    set_plan(net, spec["ends_fp"])
    net.double().train()
    # Draw until no ReLU input or max-pool runner-up is within KINK_MARGIN
    # of its kink: there float32 could route a gradient differently, which
    # moves a whole channel's weight gradient by percent.
    for attempt in range(1, 201):
        params, mom0, x, y = draw(net, spec, rng)
        load(net, params)
        worst = kink_margins(net, torch.from_numpy(x.astype(np.float64)))
        if min(worst.values()) >= KINK_MARGIN:
            break
    else:
        sys.exit(f"make_golden.py: {name}: no draw in 200 keeps every ReLU "
                 f"and max-pool {KINK_MARGIN:g} rms from its kink")
    load(net, params)  # the margin pass updated the running statistics
    trainable = dict(net.named_parameters())
    logits = net(torch.from_numpy(x.astype(np.float64)))
    data_loss = F.cross_entropy(logits, torch.from_numpy(y).long())
    qlayers = [(n, m) for n, m in weight_layers(net) if m.quantized]
    reg = {n: sinreq_term(m.weight, BITS) for n, m in qlayers}
    reg_loss = LAMBDA * sum(reg.values())
    (data_loss + reg_loss).backward()

    g = f.create_group(name)
    for k, v in {"bits": BITS, "lambda": LAMBDA, "lr": LR,
                 "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY,
                 "bn_eps": BN_EPS, "bn_momentum": BN_MOMENTUM,
                 "relu_margin": worst["relu"],
                 "maxpool_margin": worst["maxpool"]}.items():
        g.attrs[k] = float(v)
    g["input"] = x
    g["labels"] = y
    g["logits"] = logits.detach().numpy()
    g["loss_data"] = data_loss.item()
    g["loss_reg"] = reg_loss.item()
    for k, v in params.items():
        g[f"params/{k}"] = v
    for k, v in mom0.items():
        g[f"momentum/{k}"] = v
    for k, p in trainable.items():
        g[f"grads/{k}"] = p.grad.numpy()
    for n, m in qlayers:
        wq = dorefa_weights(m.weight.detach(), BITS)
        g[f"wq/{n}"] = wq.numpy()
        g[f"reg/{n}"] = reg[n].item()
        g[f"qerr/{n}"] = (m.weight.detach() - wq).abs().mean().item()

    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM,
                          weight_decay=WEIGHT_DECAY)
    for k, p in trainable.items():
        opt.state[p]["momentum_buffer"] = torch.from_numpy(
            mom0[k].astype(np.float64))
    opt.step()
    for k, v in net.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            g[f"params_after/{k}"] = v.numpy()
    for k, p in trainable.items():
        g[f"momentum_after/{k}"] = opt.state[p]["momentum_buffer"].numpy()
    print(f"make_golden.py: {name} {'x'.join(map(str, x.shape))}: data loss "
          f"{data_loss.item():.6f}, lambda sum R_l {reg_loss.item():.6f}, "
          f"{len(qlayers)} quantized layers; draw {attempt}: closest ReLU "
          f"input {worst['relu']:.2e} rms, max-pool runner-up "
          f"{worst['maxpool']:.2e} rms")


# Per network: input [n, c, h, w], the end rule, and the scaling of the
# draw.
#  - cifar10net: all 5 layers DoReFa at |Wq| ~ 1/2 and no BN make the
#    logits ~1e4 for unit inputs (a saturated softmax, whose gradient is
#    one-hot). The net is positively homogeneous in (input, biases), so
#    scaling both by 2e-4 scales every pre-activation by 2e-4 (the ReLU and
#    max-pool decisions stay) and gives logits a few units apart.
#  - resnet20: conv1's weights at 1/50 of the default put bn1's input
#    variance near 1e-4 = 10 eps, so a wrong eps moves bn1's output by
#    percent rather than 1e-7. 16x16 images and a batch of 2 keep the
#    ReLU count (73k) low enough that a draw clear of the kinks (above) is
#    found in a few attempts; the graph is the one of 32x32 (global
#    average pool), only the planes are smaller.
MODELS = {
    "cifar10net": (Cifar10Net, {"input": (4, 3, 32, 32), "ends_fp": False,
                                "input_scale": 2e-4,
                                "scale": {f"{l}.bias": 2e-4 for l in (
                                    "conv1", "conv2", "fc1", "fc2", "fc3")}}),
    "resnet20": (ResNet20, {"input": (2, 3, 16, 16), "ends_fp": True,
                            "scale": {"conv1.weight": 0.02}}),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="HDF5 file to write")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(a.seed)
    try:
        f = h5py.File(a.out, "w")
    except OSError as e:
        sys.exit(f"make_golden.py: cannot write {a.out}: {e}")
    with f:
        f.attrs["format"] = "sinreq-golden"
        f.attrs["version"] = 1
        for name, (net, spec) in MODELS.items():
            golden(name, net(), spec, rng, f)


if __name__ == "__main__":
    main()
