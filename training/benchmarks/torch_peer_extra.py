#!/usr/bin/python3
"""PyTorch peer for the two benchmark networks that ../shared/peers/torch_bench.py does not have.

Same conventions as that peer (its measurement functions are imported from it, not copied): ReLU, max-pool, Adam lr
1e-3, fp32, NCHW, training and inference images/s printed as `RESULT {json}` lines.

  alexnet-small : zoo4j's alexnet-small preset on 1x32x32 (zero-padded Fashion-MNIST): conv5x5x64 (pad 2) - maxpool3/2
                  - conv5x5x192 (pad 2) - maxpool3/2 - conv3x3x384 - conv3x3x256 - conv3x3x256 (pad 1) - maxpool3/2 -
                  dropout 0.5 - fc1024 - dropout 0.5 - fc1024 - fc10 (torchvision's AlexNet classifier layout);
                  training batch 64, inference 256
  resnet18-224  : torchvision's ResNet-18 (7x7/2 stem, maxpool 3/2, 2-2-2-2 basic blocks, 64..512, 1x1 projection
                  shortcuts where the shape changes) on random 3x224x224 images, 10 classes; batch 8 for both

Usage: BENCH_THREADS=2 /usr/bin/python3 torch_peer_extra.py [alexnet-small] [resnet18-224] [--peer-dir DIR]
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
peer_dir = os.path.join(HERE, "..", "..", "..", "shared", "peers")
if "--peer-dir" in args:
    i = args.index("--peer-dir")
    peer_dir = args[i + 1]
    del args[i:i + 2]
sys.path.insert(0, os.path.abspath(peer_dir))
import torch_bench as peer  # noqa: E402  (the shared peer: threads, data, measurement helpers)


class AlexNetSmall(nn.Module):
    def __init__(self, channels=1, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 64, 5, 1, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, 1, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(256 * 3 * 3, 1024), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(1024, 1024), nn.ReLU(inplace=True), nn.Linear(1024, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for i, w in enumerate((64, 128, 256, 512)):
            for b in range(2):
                layers.append(peer.BasicBlock(cin, w, 2 if (i > 0 and b == 0) else 1))
                cin = w
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def bench_alexnet_small(xtr, ytr):
    torch.manual_seed(peer.SEED)
    x32 = peer.pad32(xtr[:256 * 8])
    m = AlexNetSmall()
    print(f"alexnet-small params: {peer.nparams(m)}", flush=True)
    ips, dt, _ = peer.train_ips(m, peer.batches_of(x32, ytr, 64, 20), 3, 20)
    peer.result("alexnet-small", "train_ips", ips, bs=64, batches=20, secs=round(dt, 3))
    xs = [x32[i * 256:(i + 1) * 256].contiguous() for i in range(8)]
    ips, dt = peer.infer_ips(m, xs, 1, 6)
    peer.result("alexnet-small", "infer_ips", ips, bs=256, batches=6, secs=round(dt, 3))


def bench_resnet18_224():
    torch.manual_seed(peer.SEED)
    m = ResNet18()
    print(f"resnet18 params: {peer.nparams(m)}", flush=True)
    batches = [(torch.randn(8, 3, 224, 224), torch.randint(0, 10, (8,))) for _ in range(6)]
    ips, dt, _ = peer.train_ips(m, batches, 2, 10)
    peer.result("resnet18-224", "train_ips", ips, bs=8, batches=10, secs=round(dt, 3))
    ips, dt = peer.infer_ips(m, [x for x, _ in batches], 2, 10)
    peer.result("resnet18-224", "infer_ips", ips, bs=8, batches=10, secs=round(dt, 3))


def main():
    which = args or ["alexnet-small", "resnet18-224"]
    unknown = [w for w in which if w not in ("alexnet-small", "resnet18-224")]
    if unknown:
        sys.exit("unknown network(s) %s; alexnet-small, resnet18-224" % unknown)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()}", flush=True)
    if "alexnet-small" in which:
        xtr, ytr, _, _ = peer.load()
        bench_alexnet_small(xtr, ytr)
    if "resnet18-224" in which:
        bench_resnet18_224()


if __name__ == "__main__":
    main()
