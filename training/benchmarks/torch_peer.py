#!/usr/bin/python3
"""zoo4j's PyTorch peer: the five benchmark networks of `./zoo4j bench`, built and timed as zoo4j builds and times them.

Networks (the names are zoo4j's, see src/main/java/org/zoo4j/bench/BenchNetwork.java; each prints its parameter count,
which compare_torch.py checks against zoo4j's; counted as DL4J counts them, batch norm's running
statistics included):
  lenet5        conv5x5x6 (pad 2) - maxpool2 - conv5x5x16 - maxpool2 - fc120 - fc84 - fc10, ReLU, on 1x28x28;
                training batches 64 and 128, inference 256
  alexnet-small conv5x5x64 (pad 2) - maxpool3/2 - conv5x5x192 (pad 2) - maxpool3/2 - conv3x3 384, 256, 256 (pad 1) -
                maxpool3/2 - dropout - fc1024 - dropout - fc1024 - fc10, on 1x32x32; batch 64, inference 256
  vgg16-bn      13 x (conv3x3 without bias - batch norm - ReLU) of widths 64,64,M,128,128,M,256x3,M,512x3,M,512x3,M,
                then fc 512 -> 10, on 1x32x32; batch 64, inference 256
  resnet20      CIFAR ResNet-20: conv3x3x16 - BN - ReLU, 3 stages of 3 basic blocks (16, 32, 64), 1x1 projection with
                BN where the shape changes (zoo4j's shortcut B), global average pool, fc10, on 1x32x32; batch 128,
                inference 256
  resnet18-224  torchvision's ResNet-18 with 10 classes on random 3x224x224 images; batch 8, inference 8

Data as zoo4j's bench reads it: Fashion-MNIST (Debian's dataset-fashion-mnist) scaled to [0, 1], resized bilinearly
to 32x32 where the network takes 32x32, standardised with the training images' mean and standard deviation; random
normal images for resnet18-224. Training: Adam at 1e-3, softmax cross-entropy, fp32, NCHW.

Timing as zoo4j's bench times it: untimed warm-up of at least --warmup steps and --warmup-seconds seconds, then
--repeats timed runs of --iterations steps each (0: about two seconds of work, from a short probe, 3 to 400 steps);
each run's images/s, and their median. Peak resident memory is the process's own (getrusage), read after training
and again after inference; one network per process gives each its own peak.

  BENCH: /usr/bin/python3 training/benchmarks/torch_peer.py NETWORK [NETWORK ...] [--threads 2] [--repeats 5]
         [--warmup 5] [--warmup-seconds 10] [--iterations 0] [--mode fit,infer]
  SGEMM: /usr/bin/python3 training/benchmarks/torch_peer.py --sgemm [--threads 2]   (this CPU's FP32 ceiling)
  FLOPS: /usr/bin/python3 training/benchmarks/torch_peer.py --flops NETWORK ...     (per image, forward)
  PARAMS: /usr/bin/python3 training/benchmarks/torch_peer.py --params NETWORK ...   (parameter counts)

Each figure is printed as a line `RESULT {json}`.
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
SEED = 12345


# ------------------------------------------------------------------------------------------------------------ networks
def conv_bn(cin, cout, kernel, stride, padding):
    return [nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm2d(cout)]


class LeNet5(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                  nn.Linear(84, classes))

    def forward(self, x):
        return self.head(self.features(x))


class AlexNetSmall(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        layers, cin = [], 1
        for cout, kernel, pool in ((64, 5, True), (192, 5, True), (384, 3, False), (256, 3, False), (256, 3, True)):
            layers += [nn.Conv2d(cin, cout, kernel, 1, kernel // 2), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(3, 2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(256 * 3 * 3, 1024), nn.ReLU(),
                                  nn.Dropout(0.5), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, classes))

    def forward(self, x):
        return self.head(self.features(x))


VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class Vgg16Bn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        layers, cin = [], 1
        for v in VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += conv_bn(cin, v, 3, 1, 1) + [nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(512, classes))

    def forward(self, x):
        return self.head(self.features(x))


class Basic(nn.Module):
    """A basic residual block: two 3x3 convolutions; a 1x1 projection where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(cin, cout, 3, stride, 1), nn.ReLU(), *conv_bn(cout, cout, 3, 1, 1))
        self.shortcut = nn.Sequential(*conv_bn(cin, cout, 1, stride, 0)) if stride != 1 or cin != cout else None

    def forward(self, x):
        return F.relu(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(nn.Module):
    def __init__(self, stem, widths, blocks, classes=10):
        super().__init__()
        self.stem = stem
        stages, cin = [], widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks)):
            for b in range(count):
                stages.append(Basic(cin, width, 2 if i > 0 and b == 0 else 1))
                cin = width
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1), 1))


def resnet20():
    return ResNet(nn.Sequential(*conv_bn(1, 16, 3, 1, 1), nn.ReLU()), (16, 32, 64), (3, 3, 3))


def resnet18():
    return ResNet(nn.Sequential(*conv_bn(3, 64, 7, 2, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1)), (64, 128, 256, 512),
                  (2, 2, 2, 2))


# name -> (builder, input channels and side, training batches, inference batch, real Fashion-MNIST images)
NETWORKS = {"lenet5": (LeNet5, (1, 28), (64, 128), 256, True),
            "alexnet-small": (AlexNetSmall, (1, 32), (64,), 256, True),
            "vgg16-bn": (Vgg16Bn, (1, 32), (64,), 256, True),
            "resnet20": (resnet20, (1, 32), (128,), 256, True),
            "resnet18-224": (resnet18, (3, 224), (8,), 8, False)}


# ---------------------------------------------------------------------------------------------------------------- data
def idx_file(name):
    with gzip.open(os.path.join(DATA_DIR, name), "rb") as f:
        raw = f.read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def fashion_mnist(count, side):
    """The first `count` training images as zoo4j's bench pipeline gives them, and their labels."""
    images = torch.from_numpy(idx_file("train-images-idx3-ubyte.gz")[:count].astype(np.float32) / 255.0).unsqueeze(1)
    labels = torch.from_numpy(idx_file("train-labels-idx1-ubyte.gz")[:count].astype(np.int64))
    if side != images.shape[-1]:
        images = F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)
    return (images - images.mean()) / images.std(), labels


def batches(name, batch, count):
    channels, side = NETWORKS[name][1]
    if NETWORKS[name][4]:
        x, y = fashion_mnist(batch * count, side)
    else:
        gen = torch.Generator().manual_seed(SEED)
        x = torch.randn(batch * count, channels, side, side, generator=gen)
        y = torch.arange(batch * count) % 10
    return [(x[i * batch:(i + 1) * batch].contiguous(), y[i * batch:(i + 1) * batch].contiguous())
            for i in range(count)]


# -------------------------------------------------------------------------------------------------------------- timing
def blas():
    """The BLAS library this process mapped (Debian's python3-torch takes whichever libblas.so.3 is chosen: the
    reference BLAS, about 50x slower than OpenBLAS, unless libopenblas0-pthread is installed)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.split()[-1]}
        return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "none mapped"
    except OSError:
        return "unknown"


def parameter_count(net):
    """Counted as DL4J counts them: batch norm's running mean and variance are parameters there, buffers here."""
    return sum(p.numel() for p in net.parameters()) + sum(
        b.numel() for name, b in net.named_buffers() if name.endswith(("running_mean", "running_var")))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def timed(step, data, batch, args):
    """zoo4j's Plan: warm up (steps and seconds), size the runs from a probe, then time --repeats runs."""
    i = 0

    def one():
        nonlocal i
        step(data[i % len(data)])
        i += 1

    start = time.perf_counter()
    while i < args.warmup or time.perf_counter() - start < args.warmup_seconds:
        one()
    iterations = args.iterations
    if iterations <= 0:
        t0 = time.perf_counter()
        for _ in range(2):
            one()
        probe = 2 * batch / (time.perf_counter() - t0)
        iterations = int(max(3, min(400, round(2 * probe / batch))))
    ips = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(iterations):
            one()
        ips.append(iterations * batch / (time.perf_counter() - t0))
    return ips, iterations


def report(name, mode, batch, ips, iterations, params, threads):
    rec = {"framework": "torch", "torch": torch.__version__, "network": name, "mode": mode, "batch": batch,
           "threads": threads, "repeats": len(ips), "iterations": iterations,
           "median_ips": statistics.median(ips), "min_ips": min(ips), "max_ips": max(ips),
           "peak_rss_mb": round(peak_rss_mb(), 1), "params": params, "blas": blas()}
    print("RESULT " + json.dumps(rec), flush=True)


def bench(name, args):
    build, _, train_batches, infer_batch, _ = NETWORKS[name]
    modes = args.mode.split(",")
    params = None
    if "fit" in modes:
        for batch in ([args.batch] if args.batch else train_batches):
            torch.manual_seed(SEED)
            net = build()
            params = parameter_count(net)
            net.train()
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)

            def step(xy):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(xy[0]), xy[1]).backward()
                opt.step()

            ips, iterations = timed(step, batches(name, batch, 50 if NETWORKS[name][4] else 6), batch, args)
            report(name, "fit", batch, ips, iterations, params, args.threads)
            del net, opt
    if "infer" in modes:
        torch.manual_seed(SEED)
        net = build().eval()
        params = parameter_count(net)
        xs = [x for x, _ in batches(name, infer_batch, 10 if NETWORKS[name][4] else 6)]

        def forward(x):
            with torch.no_grad():
                net(x)

        ips, iterations = timed(forward, xs, infer_batch, args)
        report(name, "infer", infer_batch, ips, iterations, params, args.threads)


# ------------------------------------------------------------------------------------------------------ ceiling, flops
def sgemm(args):
    """Single-precision matrix product n x n x n on --threads threads: this CPU's FP32 ceiling as BLAS reaches it."""
    n = 4096
    gen = torch.Generator().manual_seed(SEED)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    c = torch.empty(n, n)
    for _ in range(2):
        torch.mm(a, b, out=c)
    rates = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        rates.append(2.0 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    print("RESULT " + json.dumps({"framework": "torch", "torch": torch.__version__, "metric": "sgemm_gflops", "n": n,
                                  "threads": args.threads, "repeats": len(rates), "median": statistics.median(rates),
                                  "max": max(rates), "blas": blas()}), flush=True)


def forward_flops(name):
    """Multiply-adds x 2 of the convolutions and fully connected layers in one image's forward pass."""
    build, (channels, side) = NETWORKS[name][0], NETWORKS[name][1]
    net, total = build().eval(), [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total[0] += 2 * output.numel() * kernel
        elif isinstance(module, nn.Linear):
            total[0] += 2 * module.in_features * module.out_features

    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(count)
    with torch.no_grad():
        net(torch.zeros(1, channels, side, side))
    print("RESULT " + json.dumps({"framework": "torch", "network": name, "metric": "forward_flops_per_image",
                                  "value": total[0]}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("networks", nargs="*", help="one or more of " + ", ".join(NETWORKS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--warmup-seconds", type=float, default=10)
    ap.add_argument("--iterations", type=int, default=0)
    ap.add_argument("--batch", type=int, default=0, help="training batch (default: the network's own)")
    ap.add_argument("--mode", default="fit,infer")
    ap.add_argument("--sgemm", action="store_true")
    ap.add_argument("--flops", action="store_true")
    ap.add_argument("--params", action="store_true")
    args = ap.parse_args()
    unknown = [n for n in args.networks if n not in NETWORKS]
    if unknown or not (args.networks or args.sgemm):
        sys.exit("name networks from %s (unknown: %s), or --sgemm" % (", ".join(NETWORKS), ", ".join(unknown)))
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    print("torch %s, %d threads, oneDNN (mkldnn) %s" % (torch.__version__, torch.get_num_threads(),
                                                         torch.backends.mkldnn.is_available()), flush=True)
    if args.sgemm:
        sgemm(args)
    for name in args.networks:
        if args.flops:
            forward_flops(name)
        elif args.params:
            print("RESULT " + json.dumps({"framework": "torch", "network": name,
                                          "params": parameter_count(NETWORKS[name][0]())}), flush=True)
        else:
            bench(name, args)


if __name__ == "__main__":
    main()
