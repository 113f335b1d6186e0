#!/usr/bin/env python3
"""PyTorch side of bench/train_throughput.sh: images/s of one training step
(forward, cross-entropy, backward, SGD momentum 0.9 + weight decay 1e-4) of
sinreq's CIFAR networks (the same layers and parameter counts) on a fixed
synthetic batch.

    bench_train_torch.py --net resnet20 --batch 128 --threads 2 \
        [--warmup 3] [--steps 10] [--no-header] [--channels-last] [--cpu-time]
        [--device cpu|cuda] [--cuda-graph]

On CUDA, float32 throughout (TF32 off for matmuls and cuDNN), cuDNN
benchmark mode on; --cuda-graph captures the whole step (zero_grad,
forward, loss, backward, SGD) once and replays it, the fastest PyTorch can
run it. A capture that fails exits 3 with the reason.

Prints one TSV line in bench_train's format:
    side net batch threads quant median_ms images_per_s min_ms loss
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Cifar10Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(3):
                blocks.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.linear(x)


def vgg11():
    cfg = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M']
    layers, cin = [], 3
    for v in cfg:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v),
                       nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 10))


NETS = {'cifar10net': Cifar10Net, 'resnet20': ResNet20, 'vgg11': vgg11}
PARAMS = {'cifar10net': 62006, 'resnet20': 272474, 'vgg11': 9231114}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--net', default='resnet20', choices=sorted(NETS))
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--no-header', action='store_true')
    ap.add_argument('--channels-last', action='store_true',
                    help='model and input in torch.channels_last (NHWC), '
                    'PyTorch\'s faster CPU layout for convolutions')
    ap.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    ap.add_argument('--cuda-graph', action='store_true',
                    help='replay the step as one CUDA graph (--device cuda)')
    ap.add_argument('--cpu-time', action='store_true',
                    help='time by the process CPU time / threads (a machine '
                    'shared with other jobs)')
    a = ap.parse_args()
    clock = ((lambda: time.process_time() / a.threads) if a.cpu_time
             else time.perf_counter)

    torch.set_num_threads(a.threads)
    if a.device == 'cuda':
        if not torch.cuda.is_available():
            raise SystemExit('--device cuda: torch.cuda.is_available() is '
                             'False (no CUDA device or driver)')
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    elif a.cuda_graph:
        raise SystemExit('--cuda-graph needs --device cuda')
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = NETS[a.net]()
    n = sum(p.numel() for p in model.parameters())
    if n != PARAMS[a.net]:
        raise SystemExit(f'{a.net}: {n} parameters, sinreq\'s network has '
                         f'{PARAMS[a.net]}')
    model.to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                          weight_decay=1e-4)
    x = (torch.rand(a.batch, 3, 32, 32) * 2 - 1).to(dev)
    layout = 'nchw'
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        layout = 'nhwc'
    y = torch.randint(0, 10, (a.batch,)).to(dev)

    def step():
        opt.zero_grad(set_to_none=True)
        lo = F.cross_entropy(model(x), y)
        lo.backward()
        opt.step()
        return lo

    run = step
    if a.cuda_graph:
        # warm-up on a side stream (creates the momentum buffers), then
        # capture; the graph's loss tensor is refreshed by every replay
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        try:
            opt.zero_grad(set_to_none=True)
            with torch.cuda.graph(graph):
                static_loss = step()
        except Exception as e:  # noqa: BLE001 (reported, not hidden)
            print(f'cuda graph capture failed: {e}', file=sys.stderr)
            sys.exit(3)

        def run():
            graph.replay()
            return static_loss
        layout += '-cudagraph'
    times, loss = [], 0.0
    for i in range(a.warmup + a.steps):
        t0 = clock()
        # the loss tensor stays referenced until the next step, as in a
        # plain training loop: dropping it at once made PyTorch's CPU step
        # 2x slower here (its buffers freed and mapped again every step)
        kept = run()
        loss = kept.item()  # .item() waits for the GPU
        t1 = clock()
        if i >= a.warmup:
            times.append(t1 - t0)
    med = statistics.median(times)
    if not a.no_header:
        print('side\tnet\tbatch\tthreads\tquant\tmedian_ms\timages_per_s'
              '\tmin_ms\tloss')
    side = f'torch-{torch.__version__}-{layout}'
    if a.device == 'cuda':
        side += '-cuda'
    print(f'{side}\t{a.net}\t{a.batch}\t{a.threads}\tnone'
          f'\t{med * 1e3:.2f}\t{a.batch / med:.1f}\t{min(times) * 1e3:.2f}'
          f'\t{loss:.4f}')


if __name__ == '__main__':
    main()
