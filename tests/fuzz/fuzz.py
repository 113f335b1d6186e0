#!/usr/bin/env python3
"""Fuzzer of sinreq's input handling: damaged files, argument lists, configs.

    fuzz.py --sinreq BIN --mkds BIN --work DIR [--cases N] [--seed S]
            [--jobs J] [--timeout SEC] [--only I,J,...] [--keep]

Builds tiny inputs once (a dataset from tests/train/mkds, a float and a
quantized model, checkpoints of a short run, an export), runs each `sinreq`
operation on the clean inputs for a baseline, then generates N cases, each
from its own random stream (seed, case index), so `--seed S --only I`
reproduces case I of a run exactly:

  h5     a structural change made with h5py to a model, export, checkpoint
         or dataset file: a tensor deleted, renamed, transposed, of the wrong
         dtype or shape, NaN/Inf values, attributes deleted, of the wrong
         type or absurd (bits 17, classes 0, num_classes 4e9, ...)
  bytes  raw damage to the same files: bit flips (anywhere or in the
         metadata near the start), truncation, a zeroed block, appended junk
  args   argument lists of train/eval/export/info/devices with random flags,
         out-of-range numbers and garbage strings
  yaml   configs for `train --config`: duplicate keys, a second document,
         lists or mappings for scalar keys, bad numbers, random byte flips,
         deep nesting, alias bombs, NUL bytes, invalid UTF-8

Each case runs one operation (eval, info, export, train --max-steps 1 on the
tiny data, or a resume from a checkpoint) with a timeout and is classified:

  crash     exit >= 128 (a signal) or a sanitizer report on stderr
  hang      the timeout expired
  silent    exit 0 although the generator knows the input is invalid, or
            exit 0 on changed bytes with an output (stdout of eval/info, the
            tensors of the written model/export) that differs from the clean
            input's: damage that went unnoticed. Exit 0 with the clean
            output is benign (a flip in unused bytes)
  hdf5      HDF5's own error stack printed ("HDF5-DIAG")
  nomsg     a non-zero exit without a message on stderr
  passed    everything else

It prints the counts per class and per generator, one line per failure
with the case's reproducer, then `N passed, N failed`, and exits 1 if any
case failed. Directories of failed cases are kept under WORK/cases
(all with --keep). ctest runs 150 cases (label unit) and 500 (label slow).
"""
import argparse
import concurrent.futures
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

SKIP_ATTRS = {"created_at", "program_version", "device"}
BASE_TRAIN = ["--batch", "32", "--lr", "0.02", "--threads", "1", "--quiet",
              "--hist-epochs="]
FP_RUN = BASE_TRAIN + ["--epochs", "2", "--max-steps", "3",
                       "--checkpoint-interval", "1"]


def run(argv, cwd, timeout, env=None):
    """(rc, stdout, stderr, hung); rc < 0: killed by a signal."""
    try:
        p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env,
                           start_new_session=True)
        return p.returncode, p.stdout, p.stderr, False
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b"", e.stderr or b"", True


def digest_h5(path):
    """Hash of every dataset (dtype, shape, bytes) and attribute of an HDF5
    file, provenance aside; None when it cannot be read."""
    h = hashlib.sha256()
    try:
        with h5py.File(path, "r") as f:
            def attrs(o):
                for k in sorted(o.attrs):
                    if k not in SKIP_ATTRS:
                        h.update(k.encode())
                        h.update(repr(o.attrs[k]).encode())
            attrs(f)

            def visit(name, o):
                h.update(name.encode())
                attrs(o)
                if isinstance(o, h5py.Dataset):
                    a = o[()]
                    h.update(str(a.dtype).encode() + str(a.shape).encode())
                    h.update(np.ascontiguousarray(a).tobytes()
                             if a.dtype.kind != "O" else repr(a).encode())
            f.visititems(visit)
    except Exception:
        return None
    return h.hexdigest()


# ---- operations: (name, argv in the case dir, output after exit 0) -------

def op_argv(op, target):
    S = "@SINREQ@"
    if op == "eval_model":
        return [S, "eval", "--model", target, "--data", "data.h5",
                "--threads", "1"]
    if op == "eval_data":
        return [S, "eval", "--model", "model.h5", "--data", target,
                "--threads", "1"]
    if op == "info":
        return [S, "info", target]
    if op == "export":
        # model.h5 is full precision: exporting it needs --allow-float
        return [S, "export", "--model", target, "--out", "out.h5",
                "--allow-float"]
    if op == "train_data":
        return [S, "train", "--data", target, "--out", "run",
                "--max-steps", "1"] + BASE_TRAIN
    if op == "init":
        return [S, "train", "--data", "data.h5", "--out", "run", "--init",
                target, "--max-steps", "1"] + BASE_TRAIN
    if op == "resume":
        return [S, "train", "--data", "data.h5", "--out", "run", "--resume",
                target] + FP_RUN
    raise ValueError(op)


def op_output(op, cwd, stdout):
    if op in ("eval_model", "eval_data", "info"):
        return stdout
    if op == "export":
        return digest_h5(os.path.join(cwd, "out.h5"))
    return digest_h5(os.path.join(cwd, "run", "model.h5"))


# files of the base directory and the operations that read each kind
FILES = {
    "model": ("model.h5", ["eval_model", "info", "export", "init"]),
    "qmodel": ("qmodel.h5", ["eval_model", "info", "export"]),
    "export": ("export.h5", ["eval_model"]),
    "ckpt": ("ckpt.h5", ["resume"]),
    "data": ("data.h5", ["eval_data", "info", "train_data"]),
}


def setup(a, base):
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)

    def must(argv):
        rc, out, err, hung = run(argv, base, 600)
        if rc != 0:
            sys.exit("fuzz setup failed: %s: rc %s\n%s" %
                     (" ".join(argv), rc, err.decode(errors="replace")))
    must([a.mkds, "data.h5", "--train", "64", "--test", "32"])
    must([a.sinreq, "train", "--data", "data.h5", "--out", "fp"] + FP_RUN)
    must([a.sinreq, "train", "--data", "data.h5", "--out", "q", "--epochs",
          "1", "--quantizer", "dorefa", "--bits", "4", "--act-bits", "4",
          "--max-steps", "2"] + BASE_TRAIN)
    shutil.copy(os.path.join(base, "fp", "model.h5"),
                os.path.join(base, "model.h5"))
    shutil.copy(os.path.join(base, "q", "model.h5"),
                os.path.join(base, "qmodel.h5"))
    shutil.copy(os.path.join(base, "fp", "ckpt", "ckpt-e0001-s000000001.h5"),
                os.path.join(base, "ckpt.h5"))
    must([a.sinreq, "export", "--model", "qmodel.h5", "--out", "export.h5"])


# ---- h5 mutations: (name, kinds, ops or None for all, invalid, fn) -------

def _tensors(f, group):
    return sorted(k for k in f[group] if isinstance(f[group][k], h5py.Dataset))


def _pick_tensor(f, r, group, ndim=None):
    names = [n for n in _tensors(f, group)
             if ndim is None or f[group][n].ndim == ndim]
    return group + "/" + r.choice(names)


def _replace(f, path, data):
    attrs = dict(f[path].attrs)
    del f[path]
    f.create_dataset(path, data=data)
    for k, v in attrs.items():
        f[path].attrs[k] = v


def m_delete_tensor(f, r, g):
    del f[_pick_tensor(f, r, g)]


def m_rename_tensor(f, r, g):
    p = _pick_tensor(f, r, g)
    f.move(p, p + "_x")


def m_transpose(f, r, g):
    p = _pick_tensor(f, r, g, 2)
    _replace(f, p, f[p][()].T.copy())


def m_flatten(f, r, g):
    p = _pick_tensor(f, r, g)
    _replace(f, p, f[p][()].reshape(-1))


def m_extra_row(f, r, g):
    p = _pick_tensor(f, r, g)
    a = f[p][()]
    _replace(f, p, np.concatenate([a, a[:1]], axis=0))


def m_nan(f, r, g, value=np.nan, all_=False):
    p = _pick_tensor(f, r, g)
    a = f[p][()].astype(np.float32)
    if all_:
        a[...] = value
    else:
        a.reshape(-1)[r.randrange(a.size)] = value
    _replace(f, p, a)


def m_float64(f, r, g):
    p = _pick_tensor(f, r, g)
    _replace(f, p, f[p][()].astype(np.float64))


def m_int32(f, r, g):
    p = _pick_tensor(f, r, g)
    _replace(f, p, (f[p][()] * 100).astype(np.int32))


def m_string_tensor(f, r, g):
    p = _pick_tensor(f, r, g)
    del f[p]
    f[p] = "not a tensor"


def set_attr(path, name, value):
    def fn(f, r, g):
        f[path].attrs[name] = value
    return fn


def del_attr(path, name):
    def fn(f, r, g):
        del f[path].attrs[name]
    return fn


def del_obj(path):
    def fn(f, r, g):
        del f[path]
    return fn


def set_elem(path, name, value):
    """One element of an array attribute."""
    def fn(f, r, g):
        a = np.array(f[path].attrs[name])
        a[r.randrange(len(a))] = value
        f[path].attrs[name] = a
    return fn


def shorten_attr(path, name):
    def fn(f, r, g):
        f[path].attrs[name] = np.array(f[path].attrs[name])[:-1]
    return fn


def data_labels(value, split="test"):
    def fn(f, r, g):
        a = f[split + "/labels"][()]
        a[r.randrange(len(a))] = value
        f[split + "/labels"][...] = a
    return fn


def data_retype(path, dtype):
    def fn(f, r, g):
        _replace(f, path, f[path][()].astype(dtype))
    return fn


def data_images_shape(f, r, g):
    a = f["test/images"][()]
    _replace(f, "test/images", np.concatenate([a, a[:, :, :1]], axis=2))


def export_codes(f, r, g):
    p = _pick_tensor(f, r, "quantized")
    _replace(f, p, f[p][()][:-1])


MODEL_GROUP = {"model": "model", "qmodel": "model", "ckpt": "model",
               "export": "float", "data": None}
M, Q, E, C, D = "model", "qmodel", "export", "ckpt", "data"
MODELS = (M, Q)
H5_MUTATIONS = [
    # tensors (model, checkpoint: /model; export: /float)
    ("delete_tensor", (M, Q, C, E), None, True, m_delete_tensor),
    ("rename_tensor", (M, Q, C, E), None, True, m_rename_tensor),
    ("transpose_tensor", (M, Q, C), None, True, m_transpose),
    ("flatten_tensor", (M, Q, C, E), None, True, m_flatten),
    ("extra_row", (M, Q, C, E), None, True, m_extra_row),
    ("one_nan", (M, Q, C, E), None, True, m_nan),
    ("one_inf", (M, Q, C, E), None, True,
     lambda f, r, g: m_nan(f, r, g, np.inf)),
    ("all_nan", (M, Q, C, E), None, True,
     lambda f, r, g: m_nan(f, r, g, np.nan, True)),
    ("float64_tensor", (M, Q, C, E), None, False, m_float64),
    ("int32_tensor", (M, Q, C, E), None, True, m_int32),
    ("string_tensor", (M, Q, C, E), None, True, m_string_tensor),
    # model and export root attributes
    ("format_version_99", (M, Q, E, C, D), None, True,
     set_attr("/", "format_version", 99)),
    ("format_bogus", (M, Q, E, C, D), None, True,
     set_attr("/", "format", "sinreq-bogus")),
    ("no_format", (M, Q, E, C, D), None, True, del_attr("/", "format")),
    ("net_bogus", (M, Q, E), None, True, set_attr("/", "net", "lenet")),
    ("no_net", (M, Q, E), None, True, del_attr("/", "net")),
    # a checkpoint's network is its config's: these two are provenance
    ("ckpt_net_bogus", (C,), None, False, set_attr("/", "net", "lenet")),
    ("ckpt_no_net", (C,), None, False, del_attr("/", "net")),
    ("width_0", (M, Q, E), None, True, set_attr("/", "width", np.int32(0))),
    ("width_huge", (M, Q, E), None, True,
     set_attr("/", "width", np.int32(1 << 30))),
    ("width_string", (M, Q, E), None, True, set_attr("/", "width", "1")),
    ("classes_0", (M, Q, E), None, True, set_attr("/", "classes", np.int32(0))),
    ("classes_neg", (M, Q, E), None, True,
     set_attr("/", "classes", np.int32(-5))),
    ("classes_4e9", (M, Q, E), None, True,
     set_attr("/", "classes", np.int64(4000000000))),
    ("input_zero", (M, Q, E), None, True,
     set_attr("/", "input", np.array([0, 0, 0], np.int32))),
    ("input_neg", (M, Q, E), None, True,
     set_attr("/", "input", np.array([3, -32, 32], np.int32))),
    ("input_short", (M, Q, E), None, True, shorten_attr("/", "input")),
    ("act_bits_99", (M, Q, E), None, True,
     set_attr("/", "act_bits", np.int32(99))),
    ("act_bits_neg", (M, Q, E), None, True,
     set_attr("/", "act_bits", np.int32(-1))),
    ("quantizer_bogus", (M, Q, E), None, True,
     set_attr("/", "quantizer", "ternary")),
    ("norm_std_0", (M, Q, E), None, True,
     set_elem("/", "norm_std", 0.0)),
    ("norm_std_nan", (M, Q, E), None, True,
     set_elem("/", "norm_std", np.nan)),
    ("norm_mean_nan", (M, Q, E), None, True,
     set_elem("/", "norm_mean", np.nan)),
    ("no_norm_mean", (M, Q, E), None, True, del_attr("/", "norm_mean")),
    ("norm_short", (M, Q, E), None, True, shorten_attr("/", "norm_std")),
    # /quant plan
    ("quant_bits_0", (Q, E), None, True, set_elem("quant", "bits", 0)),
    ("quant_bits_17", (Q, E), None, True, set_elem("quant", "bits", 17)),
    ("quant_bits_neg", (M, Q, E, C), None, True,
     set_elem("quant", "bits", -3)),
    ("quant_quantized_7", (M, Q, E, C), None, True,
     set_elem("quant", "quantized", 7)),
    ("quant_act_bits_neg", (M, Q, E, C), None, True,
     set_elem("quant", "act_bits", -2)),
    ("quant_short", (M, Q, E, C), None, True, shorten_attr("quant", "bits")),
    ("quant_layers_short", (M, Q, E, C), None, True,
     shorten_attr("quant", "layers")),
    ("no_quant", (M, Q, E, C), None, True, del_obj("quant")),
    ("no_model_group", (M, Q, C), None, True, del_obj("model")),
    # export codes
    ("export_codes_short", (E,), None, True, export_codes),
    ("export_bits_0", (E,), None, True,
     lambda f, r, g: f[_pick_tensor(f, r, "quantized")].attrs.__setitem__(
         "bits", np.int32(0))),
    ("export_bits_33", (E,), None, True,
     lambda f, r, g: f[_pick_tensor(f, r, "quantized")].attrs.__setitem__(
         "bits", np.int32(33))),
    ("export_scale_nan", (E,), None, True,
     lambda f, r, g: f[_pick_tensor(f, r, "quantized")].attrs.__setitem__(
         "scale", np.nan)),
    ("export_numel", (E,), None, True,
     lambda f, r, g: f[_pick_tensor(f, r, "quantized")].attrs.__setitem__(
         "numel", np.int32(7))),
    ("export_shape", (E,), None, True,
     lambda f, r, g: f[_pick_tensor(f, r, "quantized")].attrs.__setitem__(
         "shape", np.array([1, 2], np.int32))),
    ("export_tensor_name", (E,), None, True,
     lambda f, r, g: f[_pick_tensor(f, r, "quantized")].attrs.__setitem__(
         "tensor", "nothing.weight")),
    ("export_quantizer", (E,), None, True,
     lambda f, r, g: f[_pick_tensor(f, r, "quantized")].attrs.__setitem__(
         "quantizer", "ternary")),
    ("export_delete_codes", (E,), None, True,
     lambda f, r, g: f.__delitem__(_pick_tensor(f, r, "quantized"))),
    # checkpoint progress and state
    ("ckpt_momentum_nan", (C,), None, True,
     lambda f, r, g: m_nan(f, r, "momentum")),
    ("ckpt_momentum_delete", (C,), None, True,
     lambda f, r, g: m_delete_tensor(f, r, "momentum")),
    ("ckpt_momentum_transpose", (C,), None, True,
     lambda f, r, g: m_transpose(f, r, "momentum")),
    ("ckpt_epoch_complete", (C,), None, True,
     set_attr("progress", "epoch_complete", np.int32(1))),
    ("ckpt_global_step", (C,), None, True,
     set_attr("progress", "global_step", np.int64(999))),
    ("ckpt_step_in_epoch", (C,), None, True,
     set_attr("progress", "step_in_epoch", np.int64(7))),
    ("ckpt_steps_per_epoch_0", (C,), None, True,
     set_attr("progress", "steps_per_epoch", np.int64(0))),
    ("ckpt_total_steps", (C,), None, True,
     set_attr("progress", "total_steps", np.int64(-4))),
    ("ckpt_epoch_neg", (C,), None, True,
     set_attr("progress", "epoch", np.int32(-1))),
    ("ckpt_data_batch", (C,), None, True,
     set_attr("progress", "data_batch", np.int64(99))),
    ("ckpt_train_seen_neg", (C,), None, True,
     set_attr("metrics", "train_seen", np.int64(-32))),
    ("ckpt_train_loss_nan", (C,), None, True,
     set_attr("metrics", "train_loss_sum", np.nan)),
    ("ckpt_no_progress", (C,), None, True, del_obj("progress")),
    ("ckpt_no_epoch", (C,), None, True, del_attr("progress", "epoch")),
    ("ckpt_bits_9", (C,), None, True, set_elem("quant", "bits", 9)),
    ("ckpt_config_garbage", (C,), None, True,
     set_attr("/", "config", "lr: [[[\n")),
    # not read on resume (the step is /progress's): compared, not refused
    ("ckpt_rng_step_neg", (C,), None, False,
     set_attr("rng", "step", np.int64(-1))),
    ("ckpt_lr_nan", (C,), None, True, set_attr("schedule", "lr", np.nan)),
    # datasets
    ("num_classes_0", (D,), None, True,
     set_attr("/", "num_classes", np.uint32(0))),
    ("num_classes_4e9", (D,), None, True,
     set_attr("/", "num_classes", np.uint64(4000000000))),
    ("num_classes_5", (D,), None, True,
     set_attr("/", "num_classes", np.uint32(5))),
    ("num_classes_float", (D,), None, True,
     set_attr("/", "num_classes", 10.0)),
    ("no_num_classes", (D,), None, True, del_attr("/", "num_classes")),
    ("no_classes", (D,), None, True, del_obj("classes")),
    ("label_99", (D,), ("eval_data", "train_data"), True, data_labels(99)),
    ("train_label_99", (D,), ("train_data",), True,
     data_labels(99, "train")),
    ("labels_int64", (D,), None, True, data_retype("test/labels", np.int64)),
    ("images_uint16", (D,), None, True,
     data_retype("test/images", np.uint16)),
    ("images_shape", (D,), None, True, data_images_shape),
    ("no_test_labels", (D,), None, True, del_obj("test/labels")),
    ("no_test", (D,), ("eval_data", "train_data"), True, del_obj("test")),
    ("no_train", (D,), ("train_data",), True, del_obj("train")),
    ("count_wrong", (D,), None, True,
     set_attr("test", "count", np.uint64(31))),
    ("ds_format_version", (D,), None, True,
     set_attr("/", "format_version", np.uint32(7))),
]


def flip_bits(b, r, lo, hi, n):
    for _ in range(n):
        i = r.randrange(lo, hi)
        b[i] ^= 1 << r.randrange(8)


def bytes_mutation(r, raw):
    b = bytearray(raw)
    kind = r.choice(["flip", "flip", "flip_meta", "flip_meta", "truncate",
                     "zero_block", "append"])
    if kind == "flip":
        flip_bits(b, r, 0, len(b), r.randint(1, 8))
    elif kind == "flip_meta":
        flip_bits(b, r, 0, min(len(b), 4096), r.randint(1, 3))
    elif kind == "truncate":
        b = b[:r.randrange(0, len(b))]
    elif kind == "zero_block":
        i = r.randrange(0, max(1, len(b) - 512))
        b[i:i + 512] = bytes(len(b[i:i + 512]))
    else:
        b += bytes(r.getrandbits(8) for _ in range(r.randint(1, 4096)))
    return kind, bytes(b)


# ---- argument lists --------------------------------------------------------

BAD_NUMBERS = ["1e3", "99999999999", "-1", "-99999999999", "0x10", "nan",
               "inf", "-inf", "", " 5", "5 ", "1.5", "+-3", "4e9", "1e-400",
               "1e400", "abc", "%s%n%x", "0", "18446744073709551616"]
GARBAGE = ["", "-", "--", "\u00e9\u00e8", "A" * 5000, "%s%s%s%n", "../../..",
           "/dev/null", "nothere.h5", ".", "data.h5\n", "\x7f"]
# flag: (valid values, bad values) for `train`
TRAIN_FLAGS = {
    "--batch": (["16", "32"], ["0", "-1", "65537", "1e3", "99999999999"]),
    "--epochs": (["1"], ["0", "-2", "1.5"]),
    "--lr": (["0.01", "1e-3"], ["0", "-0.1", "nan", "inf", "0x1p3", "1e400"]),
    "--momentum": (["0.5"], ["1", "-0.1", "2"]),
    # without a quantizer bits are not used: only what never parses
    "--bits": (["3", "4"], ["1e1", "4.0", "x", "99999999999"]),
    "--act-bits": (["0", "4"], ["-1", "17", "99999999999"]),
    "--width-mult": (["1"], ["0", "9", "99999999999", "-1"]),
    "--threads": (["1", "2"], ["-1", "100000", "1025", "1e3", "2x"]),
    "--seed": (["0", "7"], ["1e3", " 1", "0x7", "99999999999999999999"]),
    "--max-steps": (["1"], ["-1", "1e9x"]),
    "--hist-bins": (["10"], ["1", "100001", "-5"]),
    "--keep-last": (["0", "2", "all"], ["-1", "x", "1.5"]),
    "--eval-every": (["0", "2"], ["-1", "x"]),
    "--progress-every": (["5", "1s"], ["0", "x", "1x", "s"]),
    "--checkpoint-interval": (["0", "1"], ["-1", "1.5"]),
    "--lr-milestones": (["1", "1,2"], ["2,1", "0", "99999999999", "a,b",
                                       "1,,2"]),
    "--hist-epochs": (["0,last", ""], ["9", "-1", "x"]),
    "--bucket-mb": (["0.25"], ["0", "-1", "1e9", "nan"]),
    "--quantizer": (["dorefa", "wrpn", "none"], ["ternary", ""]),
    "--net": (["cifar10net", "svhnnet"], ["lenet", ""]),
    "--layer-bits": (["fc3=5"], ["fc3=99", "fc3", "=4", "nothere=3"]),
    "--lambda-schedule": (["constant", "linear-ramp"], ["sawtooth"]),
    "--sinreq-lambda": (["0"], ["-1", "nan"]),
    "--classes": (["0", "10"], ["-1", "7", "99999999999"]),
    "--waveq-beta-init": (["8"], ["0", "17", "nan"]),
    "--val": (["true", "false"], []),
    "--capture": (["true", "false"], []),
    "--backend": (["cpu"], ["tpu", ""]),
}
EVAL_FLAGS = {
    "--batch": (["1", "16", "256"], ["0", "-1", "1e3", "65537", "99999999999",
                                     "x"]),
    "--threads": (["0", "1"], ["-1", "100000", "1025", "1e0", " 1"]),
    "--split": (["test", "train"], ["nosuchsplit", ""]),
    "--backend": (["cpu"], ["tpu"]),
}
INFO_FLAGS = {
    "--width": (["1", "2"], ["0", "9", "99999999999", "1e0", "-1"]),
    "--bits": (["4"], ["0", "17", "4.5", "x"]),
    "--quantizer": (["dorefa", "wrpn"], ["ternary"]),
}


def args_case(r):
    """(subcommand argv, invalid known)."""
    sub = r.choice(["train", "train", "eval", "eval", "info", "export",
                    "devices"])
    argv, bad = [sub], {}     # bad: flag -> its last value is invalid
    if sub == "train":
        argv += ["--data", "data.h5", "--out", "run", "--max-steps", "1"] \
            + BASE_TRAIN
        flags = TRAIN_FLAGS
    elif sub == "eval":
        argv += ["--model", r.choice(["model.h5", "qmodel.h5", "export.h5"]),
                 "--data", "data.h5"]
        flags = EVAL_FLAGS
    elif sub == "info":
        argv += ["--net", "cifar10net"] if r.random() < 0.7 else ["model.h5"]
        flags = INFO_FLAGS if "--net" in argv else {}
    elif sub == "export":
        argv += ["--model", "qmodel.h5", "--out", "out.h5"]
        flags = {}
    else:
        flags = {"--backend": (["cpu"], ["tpu", ""])}
    unknown = False
    for _ in range(r.randint(1, 4)):
        x = r.random()
        if flags and x < 0.45:
            name = r.choice(sorted(flags))
            good, badv = flags[name]
            if badv and r.random() < 0.6:
                argv += [name, r.choice(badv)]
                bad[name] = True
            else:
                argv += [name, r.choice(good)]
                bad[name] = False
        elif flags and x < 0.6:
            # random numbers and garbage: valid for some flags (seed -1,
            # lr 1e3): only crashes and hangs count
            argv += [r.choice(sorted(flags)), r.choice(BAD_NUMBERS + GARBAGE)]
            unknown = True
        elif x < 0.7:
            argv += ["--" + r.choice(["frobnicate", "bits_", "lr-", "-",
                                      "x" * 300])]
            bad["?"] = True
        elif x < 0.8 and len(argv) > 1:
            del argv[r.randrange(1, len(argv))]   # a flag loses its value
            unknown = True
        elif x < 0.9:
            argv.append(r.choice(GARBAGE) or "stray")
            bad["?"] = True
        else:
            argv.append(r.choice(list(flags) or ["--help"]))  # no value
            unknown = True
    if unknown or "--help" in argv or "-h" in argv:
        return argv, None
    return argv, any(bad.values())


# ---- YAML configs ----------------------------------------------------------

YAML_BASE = ("net: cifar10net\ndata: data.h5\nepochs: 1\nbatch: 32\n"
             "lr: 0.02\nlr_milestones: [1]\nhist_epochs: []\nquiet: true\n"
             "max_steps: 1\nthreads: 1\n")
SCALAR_KEYS = ["epochs", "batch", "lr", "momentum", "bits", "threads", "seed",
               "net", "quantizer", "quiet", "width_mult", "max_steps"]


def yaml_case(r):
    """(text, invalid known)."""
    kind = r.choice(["dup", "second_doc", "list_scalar", "map_scalar",
                     "bad_number", "unknown_key", "flip", "flip", "nesting",
                     "alias_bomb", "nul", "utf8", "long_line", "tabs",
                     "dup_dash"])
    t = YAML_BASE
    if kind == "dup":   # a key of YAML_BASE again
        k = r.choice(["epochs", "batch", "lr", "threads", "net", "quiet"])
        return kind, (t + "%s: %s\n" % (k, r.choice(["1", "2"]))).encode(), \
            True
    if kind == "dup_dash":
        return kind, (t + "lr-gamma: 0.5\nlr_gamma: 0.1\n").encode(), True
    if kind == "second_doc":
        return kind, (t + "---\n" + r.choice(["lr: 0.5\n", "x\n", "[]\n",
                                              "\n"])).encode(), True
    if kind == "list_scalar":
        k = r.choice(SCALAR_KEYS)
        t = "\n".join(l for l in t.split("\n") if not l.startswith(k + ":"))
        return kind, (t + "\n%s: [%s]\n" % (k, r.choice(["1", "0.1", "a",
                                                         "1, 2"]))).encode(), True
    if kind == "map_scalar":
        k = r.choice(SCALAR_KEYS)
        t = "\n".join(l for l in t.split("\n") if not l.startswith(k + ":"))
        return kind, (t + "\n%s: {a: 1}\n" % k).encode(), True
    if kind == "bad_number":
        k = r.choice(["epochs", "batch", "lr", "momentum", "threads", "seed",
                      "width_mult", "bits", "max_steps", "hist_bins"])
        t = "\n".join(l for l in t.split("\n") if not l.startswith(k + ":"))
        v = r.choice([b for b in BAD_NUMBERS if b not in ("0", "-1")] +
                     ["'1e3'", "~", "null", "[]"])
        return kind, (t + "\n%s: %s\n" % (k, v)).encode(), True
    if kind == "unknown_key":
        return kind, (t + "lernrate: 0.1\n").encode(), True
    if kind == "flip":
        b = bytearray(t.encode())
        flip_bits(b, r, 0, len(b), r.randint(1, 6))
        return kind, bytes(b), None
    if kind == "nesting":
        n = r.choice([100, 10000, 100000])
        t = "\n".join(l for l in t.split("\n")
                      if not l.startswith("lr_milestones:"))
        return kind, (t + "\nlr_milestones: " + "[" * n + "1" + "]" * n +
                      "\n").encode(), True
    if kind == "alias_bomb":
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in range(1, 10):
            lines.append("a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                         "*a%d, *a%d, *a%d, *a%d]" % ((i, i) + (i - 1,) * 10))
        return kind, ("\n".join(lines) + "\n").encode(), True
    if kind == "nul":
        return kind, (t.replace("epochs: 1", "epochs: 1\x00")).encode(), True
    if kind == "utf8":
        return kind, t.encode() + b"net: \xff\xfe\n", True
    if kind == "long_line":
        return kind, (t + "fp_layers: " + "a" * 100000 + "\n").encode(), True
    return kind, t.replace("\n", "\n\t", 1).encode(), True   # tabs


# ---- cases -----------------------------------------------------------------

def make_case(a, base, seed, i, cdir):
    """Prepare case i in cdir; return a dict describing it."""
    r = random.Random(seed * 1000003 + i)
    x = r.random()
    os.makedirs(cdir)
    for n in ("data.h5", "model.h5", "qmodel.h5", "export.h5", "ckpt.h5"):
        os.symlink(os.path.join(base, n), os.path.join(cdir, n))
    c = {"i": i}
    if x < 0.45:
        for _ in range(100):
            name, kinds, ops, invalid, fn = r.choice(H5_MUTATIONS)
            kind = r.choice(kinds)
            fname, kind_ops = FILES[kind]
            kind_ops = [o for o in kind_ops if ops is None or o in ops]
            if kind_ops:
                break
        op = r.choice(kind_ops)
        os.unlink(os.path.join(cdir, fname))
        shutil.copy(os.path.join(base, fname), os.path.join(cdir, fname))
        try:
            with h5py.File(os.path.join(cdir, fname), "r+") as f:
                fn(f, r, MODEL_GROUP[kind])
        except Exception as e:
            return dict(c, gen="h5", what="%s on %s (not applicable: %s)" %
                        (name, fname, e), skip=True)
        c.update(gen="h5", what="%s on %s" % (name, fname), op=op,
                 target=fname, invalid=invalid, changed=True)
    elif x < 0.7:
        kind = r.choice(list(FILES))
        fname, kind_ops = FILES[kind]
        op = r.choice(kind_ops)
        with open(os.path.join(base, fname), "rb") as f:
            raw = f.read()
        how, damaged = bytes_mutation(r, raw)
        os.unlink(os.path.join(cdir, fname))
        with open(os.path.join(cdir, fname), "wb") as f:
            f.write(damaged)
        c.update(gen="bytes", what="%s of %s" % (how, fname), op=op,
                 target=fname, invalid=False, changed=damaged != raw)
    elif x < 0.85:
        argv, bad = args_case(r)
        c.update(gen="args", what=" ".join(argv)[:120], argv=["@SINREQ@"] +
                 argv, invalid=bad, changed=False)
    else:
        how, text, bad = yaml_case(r)
        with open(os.path.join(cdir, "c.yaml"), "wb") as f:
            f.write(text)
        c.update(gen="yaml", what=how, argv=["@SINREQ@", "train", "--config",
                                             "c.yaml", "--out", "run"],
                 invalid=bad, changed=False)
    if "argv" not in c:
        c["argv"] = op_argv(c["op"], c["target"])
    return c


SANITIZER = (b"ERROR: AddressSanitizer", b"runtime error:",
             b"ERROR: LeakSanitizer", b"ThreadSanitizer", b"MemorySanitizer")


def classify(c, rc, out, err, hung, baseline, cdir):
    if hung:
        return "hang"
    if rc < 0 or rc >= 128 or any(s in err for s in SANITIZER):
        return "crash"
    if b"HDF5-DIAG" in err:
        return "hdf5"
    if rc != 0:
        return "passed" if err.strip() else "nomsg"
    if c["invalid"]:
        return "silent"
    if c["changed"]:
        ref = baseline.get((c["op"], c["target"]))
        got = op_output(c["op"], cdir, out)
        return "passed" if got is not None and got == ref else "silent"
    return "passed"


def run_case(a, base, seed, i, baseline):
    cdir = os.path.join(a.work, "cases", "%05d" % i)
    shutil.rmtree(cdir, ignore_errors=True)
    c = make_case(a, base, seed, i, cdir)
    if c.get("skip"):
        shutil.rmtree(cdir, ignore_errors=True)
        return c, "skipped", ""
    argv = [a.sinreq if x == "@SINREQ@" else x for x in c["argv"]]
    rc, out, err, hung = run(argv, cdir, a.timeout)
    cls = classify(c, rc, out, err, hung, baseline, cdir)
    last = err.decode(errors="replace").strip().split("\n")[-1:] or [""]
    detail = "rc %s: %s" % ("timeout" if hung else rc, last[0][:200])
    if cls == "passed" and not a.keep:
        shutil.rmtree(cdir, ignore_errors=True)
    return c, cls, detail


def baselines(a, base):
    """Output of every (operation, file) on the clean inputs."""
    ref = {}
    for kind, (fname, ops) in FILES.items():
        for op in ops:
            cdir = os.path.join(a.work, "baseline", "%s_%s" % (op, kind))
            shutil.rmtree(cdir, ignore_errors=True)
            os.makedirs(cdir)
            for n in ("data.h5", "model.h5", "qmodel.h5", "export.h5",
                      "ckpt.h5"):
                os.symlink(os.path.join(base, n), os.path.join(cdir, n))
            argv = [a.sinreq if x == "@SINREQ@" else x
                    for x in op_argv(op, fname)]
            rc, out, err, hung = run(argv, cdir, a.timeout)
            got = op_output(op, cdir, out) if rc == 0 else None
            if got is None:
                sys.exit("fuzz baseline failed: %s on clean %s: rc %s\n%s" %
                         (op, fname, rc, err.decode(errors="replace")))
            ref[(op, fname)] = got
    return ref


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sinreq", required=True)
    p.add_argument("--mkds", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--cases", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--only", default="", help="case numbers I,J,... to run")
    p.add_argument("--keep", action="store_true",
                   help="keep every case directory, not only failed ones")
    a = p.parse_args()
    a.sinreq, a.mkds, a.work = (os.path.abspath(a.sinreq),
                                os.path.abspath(a.mkds),
                                os.path.abspath(a.work))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.time()
    base = os.path.join(a.work, "base")
    setup(a, base)
    ref = baselines(a, base)
    idx = [int(x) for x in a.only.split(",")] if a.only else range(a.cases)
    counts, by_gen, fails = {}, {}, []
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        futs = [ex.submit(run_case, a, base, a.seed, i, ref) for i in idx]
        for fu in futs:
            c, cls, detail = fu.result()
            counts[cls] = counts.get(cls, 0) + 1
            g = by_gen.setdefault(c["gen"], {})
            g[cls] = g.get(cls, 0) + 1
            if cls not in ("passed", "skipped"):
                fails.append((c, cls, detail))
    for c, cls, detail in fails:
        print("%-6s case %d [%s] %s\n       %s\n       %s\n       rerun: "
              "fuzz.py ... --seed %d --only %d (dir %s)" %
              (cls.upper(), c["i"], c["gen"], c["what"],
               " ".join(c["argv"]).replace("@SINREQ@", "sinreq")[:300],
               detail, a.seed, c["i"],
               os.path.join(a.work, "cases", "%05d" % c["i"])))
    print("by generator: " + "; ".join(
        "%s %s" % (g, ", ".join("%s %d" % kv for kv in sorted(v.items())))
        for g, v in sorted(by_gen.items())))
    print("counts: " + ", ".join("%s %d" % kv for kv in sorted(counts.items()))
          + " (%.0f s, seed %d)" % (time.time() - t0, a.seed))
    n_fail = len(fails)
    print("%d passed, %d failed" % (counts.get("passed", 0), n_fail))
    return 1 if n_fail else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(main())
