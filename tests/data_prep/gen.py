"""Generators and checkers for the data_prep tests (Python 3 stdlib only).

Every generator also writes what the converter must produce, as raw NCHW
bytes (<split>.raw) and one label per line (<split>.labels), computed here
independently of the C code.
"""
import gzip
import os
import random
import struct
import sys
import zlib


def write_expected(prefix, images, labels):
    with open(prefix + ".raw", "wb") as f:
        for img in images:
            f.write(img)
    with open(prefix + ".labels", "w") as f:
        for lab in labels:
            f.write("%d\n" % lab)


# ---- CIFAR-10 binary: 3073-byte records, label then CHW ----

def cifar(out, per_file, ntest, seed, meta=True):
    rnd = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    train_img, train_lab = [], []
    for f in range(1, 6):
        recs = []
        for r in range(per_file):
            lab = (r + f) % 10
            img = bytes(rnd.getrandbits(8) for _ in range(3072))
            recs.append(bytes([lab]) + img)
            train_img.append(img)
            train_lab.append(lab)
        with open(os.path.join(out, "data_batch_%d.bin" % f), "wb") as fh:
            fh.write(b"".join(recs))
    test_img, test_lab, recs = [], [], []
    for r in range(ntest):
        lab = (3 * r) % 10
        img = bytes(rnd.getrandbits(8) for _ in range(3072))
        recs.append(bytes([lab]) + img)
        test_img.append(img)
        test_lab.append(lab)
    with open(os.path.join(out, "test_batch.bin"), "wb") as fh:
        fh.write(b"".join(recs))
    if meta:
        names = ["plane", "car", "bird", "cat", "deer", "dog", "frog",
                 "horse", "ship", "truck"]
        with open(os.path.join(out, "batches.meta.txt"), "w") as fh:
            fh.write("\n".join(names) + "\n\n")
    write_expected("expect_train", train_img, train_lab)
    write_expected("expect_test", test_img, test_lab)


# ---- SVHN: X is H x W x C x N column-major, y in 1..10 ----

def svhn_part(name, n, seed, h=32, w=32, c=3):
    """Writes NAME.X.raw (MATLAB order), NAME.y.raw and expect_NAME.*"""
    rnd = random.Random(seed)
    x = bytearray(h * w * c * n)
    ys = [(i % 10) + 1 for i in range(n)]       # includes 10 (digit 0)
    rnd.shuffle(ys)
    images = []
    for i in range(n):
        chw = bytearray(c * h * w)
        for ch in range(c):
            for r in range(h):
                for col in range(w):
                    v = rnd.getrandbits(8)
                    x[r + h * col + h * w * ch + h * w * c * i] = v
                    chw[(ch * h + r) * w + col] = v
        images.append(bytes(chw))
    with open(name + ".X.raw", "wb") as f:
        f.write(x)
    with open(name + ".y.raw", "wb") as f:
        f.write(bytes(ys))
    write_expected("expect_" + name, images, [y % 10 for y in ys])


def savemat(name, out, h, w, c, n, compress):
    """scipy writer (an implementation independent of libmatio)."""
    import numpy as np
    import scipy.io
    x = np.frombuffer(open(name + ".X.raw", "rb").read(), dtype=np.uint8)
    x = x.reshape((h, w, c, n), order="F")
    y = np.frombuffer(open(name + ".y.raw", "rb").read(), dtype=np.uint8)
    scipy.io.savemat(out, {"X": x, "y": y.reshape(n, 1)},
                     do_compression=compress, format="5")


# ---- IDX ----

def idx(out, n_train, n_test, rows, cols, seed, gz_train=True):
    rnd = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    for prefix, n, gz in (("train", n_train, gz_train), ("t10k", n_test, not gz_train)):
        images = [bytes(rnd.getrandbits(8) for _ in range(rows * cols))
                  for _ in range(n)]
        labels = [rnd.randrange(10) for _ in range(n)]
        img = struct.pack(">IIII", 0x803, n, rows, cols) + b"".join(images)
        lab = struct.pack(">II", 0x801, n) + bytes(labels)
        for kind, data in (("images-idx3", img), ("labels-idx1", lab)):
            path = os.path.join(out, "%s-%s-ubyte" % (prefix, kind))
            if gz:
                with gzip.open(path + ".gz", "wb") as f:
                    f.write(data)
            else:
                with open(path, "wb") as f:
                    f.write(data)
        write_expected("expect_" + ("train" if prefix == "train" else "test"),
                       images, labels)


# ---- PNG (stdlib writer) and the resize reference ----

def png(path, w, h, pixels, channels=3):
    """pixels: bytes, row-major interleaved (channels = 1 or 3)."""
    color = {1: 0, 3: 2}[channels]
    raw = b"".join(b"\x00" + pixels[r * w * channels:(r + 1) * w * channels]
                   for r in range(h))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def taps(src, dst, offset, out):
    """Triangle filter, support widened by the shrink factor (PIL-like)."""
    scale = src / dst
    fs = max(scale, 1.0)
    res = []
    for i in range(out):
        center = (i + offset + 0.5) * scale
        lo = max(int(center - fs) - 1, 0)
        hi = min(int(center + fs) + 2, src)
        ws = [(j, max(0.0, 1 - abs((j + 0.5 - center) / fs)))
              for j in range(lo, hi)]
        s = sum(v for _, v in ws)
        res.append([(j, v / s) for j, v in ws if v > 0])
    return res


def resize_crop(pixels, w, h, c, resize, crop):
    """Reference: shorter side -> resize, centre crop; returns CHW bytes."""
    if w <= h:
        nw, nh = resize, int(h * resize / w + 0.5)
    else:
        nh, nw = resize, int(w * resize / h + 0.5)
    nw, nh = max(nw, crop), max(nh, crop)
    tx = taps(w, nw, (nw - crop) // 2, crop)
    ty = taps(h, nh, (nh - crop) // 2, crop)
    out = bytearray(c * crop * crop)
    for y in range(crop):
        for x in range(crop):
            for ch in range(c):
                acc = 0.0
                for sy, wy in ty[y]:
                    row = 0.0
                    for sx, wx in tx[x]:
                        row += wx * pixels[(sy * w + sx) * c + ch]
                    acc += wy * row
                out[(ch * crop + y) * crop + x] = min(255, max(0, int(acc + 0.5)))
    return bytes(out)


def images_tree(root, seed):
    """train/{b_cls,a_cls,c_cls}, test/{a_cls,c_cls}: 8x8 RGB PNGs (exact at
    --size 8) and 12x10 / 10x16 ones (resized), a gray PNG, a non-image file.
    Writes expect_<split>.raw/.labels for --size 8 (resize 8)."""
    rnd = random.Random(seed)
    classes = sorted(["b_cls", "a_cls", "c_cls"])
    plan = {"train": {"b_cls": 3, "a_cls": 2, "c_cls": 4},
            "test": {"a_cls": 2, "c_cls": 1}}
    for split, per in plan.items():
        images, labels = [], []
        for cls in classes:
            if cls not in per:
                continue
            d = os.path.join(root, split, cls)
            os.makedirs(d, exist_ok=True)
            files = []
            for k in range(per[cls]):
                w, h, c = [(8, 8, 3), (12, 10, 3), (10, 16, 3), (8, 8, 1)][k % 4]
                px = bytes(rnd.getrandbits(8) for _ in range(w * h * c))
                name = "img%02d.png" % (per[cls] - k)   # sorted != creation
                png(os.path.join(d, name), w, h, px, c)
                rgb = px if c == 3 else bytes(v for v in px for _ in range(3))
                files.append((name, rgb, w, h))
            for name, rgb, w, h in sorted(files):
                images.append(resize_crop(rgb, w, h, 3, 8, 8))
                labels.append(classes.index(cls))
        write_expected("expect_" + split, images, labels)
    with open(os.path.join(root, "train", "a_cls", "notes.txt"), "w") as f:
        f.write("not an image\n")


# ---- checkers ----

def read_images(path, nbytes):
    data = open(path, "rb").read()
    assert len(data) % nbytes == 0, (path, len(data))
    return [data[i:i + nbytes] for i in range(0, len(data), nbytes)]


def compare(got, expect, tol=0):
    a, b = open(got, "rb").read(), open(expect, "rb").read()
    if len(a) != len(b):
        sys.exit("size %d != %d: %s vs %s" % (len(a), len(b), got, expect))
    worst = max((abs(x - y) for x, y in zip(a, b)), default=0)
    if worst > tol:
        first = next(i for i, (x, y) in enumerate(zip(a, b)) if abs(x - y) > tol)
        sys.exit("%s differs from %s: byte %d is %d, expected %d (max diff %d)"
                 % (got, expect, first, a[first], b[first], worst))


def check_val(expect_prefix, train_raw, train_lab, val_raw, val_lab, nbytes,
              fraction):
    """Disjoint, union = source, stratified counts, source order kept."""
    src = read_images(expect_prefix + ".raw", nbytes)
    src_lab = [int(x) for x in open(expect_prefix + ".labels")]
    tr, va = read_images(train_raw, nbytes), read_images(val_raw, nbytes)
    tl = [int(x) for x in open(train_lab)]
    vl = [int(x) for x in open(val_lab)]
    pos = {img: i for i, img in enumerate(src)}
    assert len(pos) == len(src), "test images are not unique"
    ti, vi = [pos[x] for x in tr], [pos[x] for x in va]
    assert not set(ti) & set(vi), "train and val overlap"
    assert sorted(ti + vi) == list(range(len(src))), "train + val != source"
    assert ti == sorted(ti) and vi == sorted(vi), "source order not kept"
    assert [src_lab[i] for i in ti] == tl and [src_lab[i] for i in vi] == vl, \
        "labels do not follow their images"
    for c in set(src_lab):
        n = src_lab.count(c)
        want = int(fraction * n + 0.5)
        assert vl.count(c) == want, "class %d: %d held out, expected %d" % (
            c, vl.count(c), want)
    print("val split ok: %d train, %d val" % (len(tr), len(va)))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "cifar":
        cifar(args[0], int(args[1]), int(args[2]), int(args[3]),
              meta=len(args) < 5 or args[4] != "nometa")
    elif cmd == "svhn-part":
        svhn_part(args[0], int(args[1]), int(args[2]))
    elif cmd == "savemat":
        savemat(args[0], args[1], 32, 32, 3, int(args[2]), args[3] == "zlib")
    elif cmd == "idx":
        idx(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]),
            int(args[5]))
    elif cmd == "images":
        images_tree(args[0], int(args[1]))
    elif cmd == "compare":
        compare(args[0], args[1], int(args[2]) if len(args) > 2 else 0)
    elif cmd == "check-val":
        check_val(args[0], args[1], args[2], args[3], args[4], int(args[5]),
                  float(args[6]))
    elif cmd == "flip":          # flip: FILE OFFSET COUNT
        path, off, n = args[0], int(args[1]), int(args[2])
        with open(path, "r+b") as f:
            f.seek(off)
            b = bytearray(f.read(n))
            f.seek(off)
            f.write(bytes(x ^ 0xff for x in b))
    else:
        sys.exit("gen.py: unknown command " + cmd)
