#!/usr/bin/env python3
"""sinreq-torch2model: a sinreq model file from a PyTorch state_dict.

    sinreq-torch2model --net NET|FILE.yaml --state-dict SD.pt --out MODEL.h5
                       --norm-mean M,M,M --norm-std S,S,S
                       [--map MAP.json|yaml] [--width-mult W] [--force]

The network (a built-in name or a network file) is described by
`sinreq info --net NET --json`: its tensors in state_dict order with their
shapes. PyTorch tensors are matched to them
  1. with --map: a table {PyTorch module name: sinreq layer name}
     ("features.0": "conv1"); a module not in the table keeps its name;
  2. else by name when every sinreq tensor has a PyTorch tensor of that
     name (a PyTorch model written with sinreq's layer names);
  3. else by order: the n-th PyTorch tensor (num_batches_tracked left out)
     is the n-th sinreq tensor.
Every pair must have the same shape, and every tensor on either side must
be used: anything else is an error naming the layer and both tensors.
The model file is full precision (quantizer none), ready for
`sinreq eval` or `sinreq train --init`. norm_mean/norm_std are the input
normalisation the PyTorch model was trained with, per channel, on pixel
values in [0, 1]: x = (pixel / 255 - mean) / std.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys


def fail(msg, code=1):
    print("sinreq-torch2model: " + msg, file=sys.stderr)
    sys.exit(code)


def find_sinreq(given):
    if given:
        return given
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sinreq")
    if os.access(here, os.X_OK):
        return here
    on_path = shutil.which("sinreq")
    if not on_path:
        fail("cannot find the sinreq binary (beside this script or on PATH; "
             "--sinreq names it)", 2)
    return on_path


def three_floats(text, what):
    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        v = []
    if len(v) != 3:
        fail("%s '%s': three comma-separated numbers expected" % (what, text))
    return v


def load_map(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        fail("--map %s: %s" % (path, e.strerror))
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml
            table = yaml.safe_load(text)
        else:
            table = json.loads(text)
    except Exception as e:  # the parser's own message says where
        fail("--map %s: not valid %s: %s" % (
            path, "YAML" if path.endswith((".yaml", ".yml")) else "JSON", e))
    if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str)
            for k, v in table.items()):
        fail("--map %s: an object of PyTorch module name: sinreq layer "
             "name (strings) expected" % path)
    return table


def load_state_dict(path):
    import torch
    try:
        sd = torch.load(path, map_location="cpu")
    except Exception as e:
        fail("--state-dict %s: cannot load with torch.load: %s" % (path, e))
    if isinstance(sd, torch.nn.Module):
        sd = sd.state_dict()
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(
            sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        fail("--state-dict %s: not a state_dict (a dict of tensors)" % path)
    out = []
    for k, v in sd.items():
        if not torch.is_tensor(v):
            fail("--state-dict %s: entry %s is not a tensor" % (path, k))
        if k.endswith("num_batches_tracked"):
            continue  # BN's step counter: sinreq has no use for it
        out.append((k, v.detach().to(torch.float32).cpu().numpy()))
    return out


def shape_text(s):
    return "x".join(str(d) for d in s) if len(s) else "scalar"


def match(graph, torch_tensors, table):
    """[(sinreq tensor, torch name, array)] in sinreq order."""
    want = graph["tensors"]
    names = {t["name"] for t in want}
    if table is not None:
        renamed = []
        for k, v in torch_tensors:
            module, _, suffix = k.rpartition(".")
            if module in table:
                k = table[module] + "." + suffix
            renamed.append((k, v))
        unknown = [m for m in table
                   if not any(k.rpartition(".")[0] == m
                              for k, _ in torch_tensors)]
        if unknown:
            fail("--map names PyTorch module(s) the state_dict does not "
                 "have: %s" % ", ".join(unknown))
        mode = "map"
    else:
        renamed = list(torch_tensors)
        mode = "name" if names <= {k for k, _ in renamed} else "order"
    pairs = []
    if mode in ("map", "name"):
        by_name = {}
        for (orig, _), (k, v) in zip(torch_tensors, renamed):
            if k in by_name:
                fail("two PyTorch tensors map to sinreq tensor %s: %s and %s"
                     % (k, by_name[k][0], orig))
            by_name[k] = (orig, v)
        for t in want:
            if t["name"] not in by_name:
                fail("layer %s: no PyTorch tensor for %s%s" % (
                    t["layer"], t["name"],
                    " (--map maps PyTorch modules to sinreq layers)"
                    if mode == "map" else ""))
            orig, v = by_name.pop(t["name"])
            pairs.append((t, orig, v))
        if by_name:
            fail("PyTorch tensor(s) the network %s has no place for: %s"
                 % (graph["net"], ", ".join(o for o, _ in by_name.values())))
    else:
        if len(renamed) != len(want):
            fail("by order: the state_dict has %d tensors (num_batches_"
                 "tracked left out) but %s has %d; give a --map"
                 % (len(renamed), graph["net"], len(want)))
        for t, (k, v) in zip(want, renamed):
            pairs.append((t, k, v))
    for t, k, v in pairs:
        if list(v.shape) != list(t["shape"]):
            fail("layer %s: tensor %s is %s in sinreq but PyTorch's %s is %s"
                 % (t["layer"], t["name"], shape_text(t["shape"]), k,
                    shape_text(v.shape)))
    return pairs, mode


def main():
    ap = argparse.ArgumentParser(
        prog="sinreq-torch2model",
        description="A sinreq model file from a PyTorch state_dict.")
    ap.add_argument("--net", required=True,
                    help="built-in network name or network file (.yaml)")
    ap.add_argument("--state-dict", required=True,
                    help="torch.save()d state_dict (or module)")
    ap.add_argument("--out", required=True, help="model file to write")
    ap.add_argument("--norm-mean", required=True,
                    help="per-channel mean of pixel/255, e.g. 0.49,0.48,0.45")
    ap.add_argument("--norm-std", required=True,
                    help="per-channel std of pixel/255")
    ap.add_argument("--map", help="JSON/YAML {PyTorch module: sinreq layer}")
    ap.add_argument("--width-mult", type=int, default=1)
    ap.add_argument("--force", action="store_true",
                    help="replace an existing --out")
    ap.add_argument("--sinreq", help="the sinreq binary to use")
    a = ap.parse_args()

    mean = three_floats(a.norm_mean, "--norm-mean")
    std = three_floats(a.norm_std, "--norm-std")
    if not all(s > 0 for s in std):
        fail("--norm-std %s: positive values expected" % a.norm_std)
    if os.path.exists(a.out) and not a.force:
        fail("%s exists; --force replaces it" % a.out)
    table = load_map(a.map) if a.map else None
    sinreq = find_sinreq(a.sinreq)
    r = subprocess.run([sinreq, "info", "--net", a.net, "--width-mult",
                        str(a.width_mult), "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        fail("cannot describe the network %s (above)" % a.net, r.returncode)
    graph = json.loads(r.stdout)
    pairs, mode = match(graph, load_state_dict(a.state_dict), table)

    import h5py
    import numpy as np
    conv = [l["name"] for l in graph["layers"]
            if l["op"] in ("conv", "linear")]
    version = subprocess.run([sinreq, "version"], stdout=subprocess.PIPE,
                             universal_newlines=True).stdout.strip()
    tmp = a.out + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = "sinreq-model"
            f.attrs["format_version"] = np.int32(1)
            f.attrs["net"] = a.net
            f.attrs["width"] = np.int32(a.width_mult)
            f.attrs["classes"] = np.int32(graph["classes"])
            f.attrs["input"] = np.array(graph["input"], dtype=np.int32)
            f.attrs["quantizer"] = "none"
            f.attrs["act_bits"] = np.int32(0)
            f.attrs["regularizer"] = "none"
            f.attrs["norm_mean"] = np.array(mean, dtype=np.float32)
            f.attrs["norm_std"] = np.array(std, dtype=np.float32)
            f.attrs["program_version"] = "sinreq-torch2model"
            f.attrs["sinreq_version"] = version or "unknown"
            f.attrs["created_at"] = datetime.datetime.utcnow().strftime(
                "%Y-%m-%dT%H:%M:%SZ")
            f.attrs["converted_from"] = os.path.basename(a.state_dict)
            q = f.create_group("quant")
            L = len(conv)
            q.attrs["layers"] = np.array(conv, dtype=h5py.string_dtype())
            for k in ("quantized", "bits", "act_bits"):
                q.attrs[k] = np.zeros(L, dtype=np.int32)
            q.attrs["beta"] = np.zeros(L, dtype=np.float32)
            g = f.create_group("model")
            for t, _, v in pairs:
                v = np.ascontiguousarray(v, dtype=np.float32)
                g.create_dataset(t["name"], data=v, chunks=v.shape,
                                 fletcher32=True)
        os.replace(tmp, a.out)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        fail("cannot write %s: %s" % (a.out, e), 2)
    print("wrote %s: %s, %d tensors matched by %s" % (
        a.out, graph["net"], len(pairs), mode))


if __name__ == "__main__":
    main()
