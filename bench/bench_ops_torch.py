#!/usr/bin/env python3
"""PyTorch side of the op benchmark: the same conv shapes and directions as
bench_ops (bench/bench_ops.c), timed the same way, printed in the same TSV
format so bench/join.py can put them side by side.

  backend net layer n c h w k kh stride pad dir gflops ms

Directions: fwd (F.conv2d), bwd_data (dx, aten.convolution_backward with
mask (1,0,0)), bwd_weight (dw, mask (0,1,0)), each counted as
2*n*k*c*kh*kw*oh*ow flops. The time of one call is the median of --reps
timed calls after --warmup untimed ones; on CUDA the device is synchronized
before the clock stops. float32 throughout; on CUDA, TF32 is OFF unless
--tf32 (PyTorch turns it on for convolutions by default, which would compare
10-bit-mantissa products against our float32 shaders).

The shape list must match SHAPES in bench/bench_ops.c (bench/join.py warns
about rows present on one side only).
"""
import argparse
import statistics
import sys
import time

# (net, layer, c, h, w, k, kh, stride, pad); square kernels, n from --batch.
SHAPES = [
    # ResNet-20, CIFAR-10 32x32 (He et al. 2016, 3 stages x 3 blocks;
    # 1x1 stride-2 projection shortcuts).
    ("resnet20", "conv1",     3, 32, 32, 16, 3, 1, 1),
    ("resnet20", "s1_3x3",   16, 32, 32, 16, 3, 1, 1),
    ("resnet20", "s2_down",  16, 32, 32, 32, 3, 2, 1),
    ("resnet20", "s2_3x3",   32, 16, 16, 32, 3, 1, 1),
    ("resnet20", "s3_down",  32, 16, 16, 64, 3, 2, 1),
    ("resnet20", "s3_3x3",   64,  8,  8, 64, 3, 1, 1),
    ("resnet20", "s2_sc1x1", 16, 32, 32, 32, 1, 2, 0),
    ("resnet20", "s3_sc1x1", 32, 16, 16, 64, 1, 2, 0),
    # VGG-11 (config A) with BN on CIFAR: max-pool after conv1, conv2,
    # conv4, conv6, conv8; conv7 and conv8 share one shape.
    ("vgg11", "conv1",   3, 32, 32,  64, 3, 1, 1),
    ("vgg11", "conv2",  64, 16, 16, 128, 3, 1, 1),
    ("vgg11", "conv3", 128,  8,  8, 256, 3, 1, 1),
    ("vgg11", "conv4", 256,  8,  8, 256, 3, 1, 1),
    ("vgg11", "conv5", 256,  4,  4, 512, 3, 1, 1),
    ("vgg11", "conv6", 512,  4,  4, 512, 3, 1, 1),
    ("vgg11", "conv7", 512,  2,  2, 512, 3, 1, 1),
]

DIRS = ("fwd", "bwd_data", "bwd_weight")
HEADER = "backend\tnet\tlayer\tn\tc\th\tw\tk\tkh\tstride\tpad\tdir\tgflops\tms"


def out_size(h, kh, stride, pad):
    return (h + 2 * pad - kh) // stride + 1


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", choices=("resnet20", "vgg11", "all"),
                   default="all")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--reps", type=int, default=None,
                   help="timed repetitions (median reported; default 5)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed calls first (default 2)")
    p.add_argument("--quick", action="store_true",
                   help="1 warm-up + 1 timed call (smoke test)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch.set_num_threads (0 = leave PyTorch's default)")
    p.add_argument("--device", default="cpu",
                   help="cpu or cuda[:i] (default cpu)")
    p.add_argument("--dirs", default=",".join(DIRS),
                   help="comma list of fwd,bwd_data,bwd_weight")
    p.add_argument("--layer", default=None,
                   help="run only layers whose name contains this")
    p.add_argument("--tf32", action="store_true",
                   help="CUDA: allow TF32 in cuDNN (off by default)")
    p.add_argument("--no-cudnn-benchmark", action="store_true",
                   help="CUDA: keep cudnn.benchmark off (on by default, as "
                        "in training)")
    p.add_argument("--no-header", action="store_true")
    a = p.parse_args(argv)
    if a.batch < 1:
        p.error("--batch must be >= 1")
    if a.reps is None:
        a.reps = 1 if a.quick else 5
    if a.warmup is None:
        a.warmup = 1 if a.quick else 2
    if a.reps < 1 or a.warmup < 0:
        p.error("--reps must be >= 1 and --warmup >= 0")
    a.dirs = [d for d in a.dirs.split(",") if d]
    for d in a.dirs:
        if d not in DIRS:
            p.error("unknown direction %r (want %s)" % (d, ",".join(DIRS)))
    return a


def main(argv):
    a = parse_args(argv)
    try:
        import torch
    except ImportError:
        sys.stderr.write("bench_ops_torch: cannot import torch with %s; on "
                         "Debian: apt-get install python3-torch and run "
                         "/usr/bin/python3\n" % sys.executable)
        return 1
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.stderr.write("bench_ops_torch: --device %s but torch.cuda is not "
                         "available (torch %s)\n" % (a.device,
                                                     torch.__version__))
        return 1
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if cuda:
        torch.backends.cudnn.benchmark = not a.no_cudnn_benchmark
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        name = torch.cuda.get_device_name(dev)
        backend = "torch-cuda"
    else:
        name = "cpu, %d threads" % torch.get_num_threads()
        backend = "torch"
    sys.stderr.write("bench_ops_torch: torch %s on %s; batch %d, warm-up %d, "
                     "reps %d%s\n" % (torch.__version__, name, a.batch,
                                      a.warmup, a.reps,
                                      ", cudnn %s tf32=%s" % (
                                          torch.backends.cudnn.version(),
                                          a.tf32) if cuda else ""))

    def sync():
        if cuda:
            torch.cuda.synchronize(dev)

    conv_bwd = torch.ops.aten.convolution_backward
    gen = torch.Generator(device="cpu")
    gen.manual_seed(1234)
    if not a.no_header:
        print(HEADER, flush=True)
    for (net, layer, c, h, w, k, kh, stride, pad) in SHAPES:
        if a.shapes != "all" and net != a.shapes:
            continue
        if a.layer and a.layer not in layer:
            continue
        n = a.batch
        oh, ow = out_size(h, kh, stride, pad), out_size(w, kh, stride, pad)
        flops = 2.0 * n * k * c * kh * kh * oh * ow

        def rnd(*shape):
            # uniform in [-1, 1): never zeros (they can time differently)
            return (torch.rand(*shape, generator=gen) * 2 - 1).to(dev)

        x = rnd(n, c, h, w)
        wt = rnd(k, c, kh, kh)
        dy = rnd(n, k, oh, ow)
        st, pd, dil = [stride, stride], [pad, pad], [1, 1]
        fns = {
            "fwd": lambda: torch.nn.functional.conv2d(x, wt, None, stride, pad),
            "bwd_data": lambda: conv_bwd(dy, x, wt, None, st, pd, dil, False,
                                         [0, 0], 1, (True, False, False))[0],
            "bwd_weight": lambda: conv_bwd(dy, x, wt, None, st, pd, dil, False,
                                           [0, 0], 1, (False, True, False))[1],
        }
        with torch.no_grad():
            for d in a.dirs:
                fn = fns[d]
                for _ in range(a.warmup):
                    fn()
                sync()
                times = []
                for _ in range(a.reps):
                    t0 = time.perf_counter()
                    fn()
                    sync()
                    times.append(time.perf_counter() - t0)
                t = statistics.median(times)
                print("%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%.3f\t%.4f"
                      % (backend, net, layer, n, c, h, w, k, kh, stride, pad,
                         d, flops / t / 1e9, t * 1e3), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
