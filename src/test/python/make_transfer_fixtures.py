#!/usr/bin/python3
"""Writes the numerical-parity fixtures for org.zoo4j.transfer.

For each model: torchvision builds it (reduced widths so the committed files stay small), fills it with seeded random
weights and random batch-norm running statistics (so that eval-mode batch norm is not the identity), and runs a fixed
input through it in eval mode. Written per model:
  NAME.safetensors     the state dict, as zoo4j imports it
  NAME.io.safetensors  the input [N,C,H,W] (F16)
  NAME.out.safetensors logits (before softmax) and softmax, F32

Run with Debian's PyTorch:  /usr/bin/python3 src/test/python/make_transfer_fixtures.py [--full] [--out DIR]
--full writes the full-size resnet18, resnet50, vgg16, vgg11-bn and alexnet (hundreds of MB: for the slow test, never committed).
The Java side (TransferParityTest) must use the same zoo overrides as MODELS below.
"""
import argparse
import json
import os
import struct
import sys

import torch
from torch import nn
import importlib

# The modules, not the same-named factory functions that torchvision.models exports.
tv_alexnet = importlib.import_module("torchvision.models.alexnet")
tv_resnet = importlib.import_module("torchvision.models.resnet")
tv_vgg = importlib.import_module("torchvision.models.vgg")


DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def write_safetensors(path, tensors, dtype="F32"):
    """The safetensors layout by hand (Debian has no safetensors package): u64 LE header length, JSON, data.
    Integer tensors (num_batches_tracked) are written as I64, as torch would."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.int64:
            kind, data = "I64", t.numpy().astype("<i8").tobytes()
        else:
            kind = dtype
            # numpy has no bfloat16: reinterpret the 16-bit patterns.
            raw = t.to(DTYPES[dtype])
            data = (raw.view(torch.int16).numpy().astype("<i2") if dtype != "F32" else raw.numpy().astype("<f4")).tobytes()
        header[name] = {"dtype": kind, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def randomise(model, seed):
    """Seeded weights; batch norm gets scales, shifts and running statistics far from the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
                m.num_batches_tracked.fill_(100)


def small_resnet(block, layers, widths, classes):
    """torchvision's ResNet with its own blocks, but stage widths of our choosing (the stem keeps 64 channels)."""
    model = tv_resnet.ResNet(block, layers, num_classes=classes)
    model.inplanes = 64
    model.layer1 = model._make_layer(block, widths[0], layers[0])
    model.layer2 = model._make_layer(block, widths[1], layers[1], stride=2)
    model.layer3 = model._make_layer(block, widths[2], layers[2], stride=2)
    model.layer4 = model._make_layer(block, widths[3], layers[3], stride=2)
    model.fc = nn.Linear(widths[3] * block.expansion, classes)
    return model


def small_vgg(cfg, batch_norm, hidden, classes):
    """torchvision's VGG features from cfg; the classifier keeps torchvision's layout with narrow hidden layers."""
    model = tv_vgg.VGG(tv_vgg.make_layers(cfg, batch_norm=batch_norm), num_classes=classes, init_weights=False)
    last = [c for c in cfg if c != "M"][-1]
    model.classifier = nn.Sequential(
        nn.Linear(last * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, classes))
    return model


def small_alexnet(w, hidden, classes):
    """torchvision's AlexNet layout (indices of features and classifier unchanged) with narrow layers."""
    model = tv_alexnet.AlexNet(num_classes=classes)
    model.features = nn.Sequential(
        nn.Conv2d(3, w[0], 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2),
        nn.Conv2d(w[0], w[1], 5, padding=2), nn.ReLU(True), nn.MaxPool2d(3, 2),
        nn.Conv2d(w[1], w[2], 3, padding=1), nn.ReLU(True),
        nn.Conv2d(w[2], w[3], 3, padding=1), nn.ReLU(True),
        nn.Conv2d(w[3], w[4], 3, padding=1), nn.ReLU(True), nn.MaxPool2d(3, 2))
    model.classifier = nn.Sequential(
        nn.Dropout(), nn.Linear(w[4] * 6 * 6, hidden), nn.ReLU(True),
        nn.Dropout(), nn.Linear(hidden, hidden), nn.ReLU(True),
        nn.Linear(hidden, classes))
    return model


# name -> (builder, input C,H,W, batch, stored dtype). The zoo overrides that match are in TransferParityTest.
# AlexNet and VGG need their full 224 (resp. a 7x7 final map) because torchvision's adaptive pool is only the identity
# there; their batch is 1 to keep the committed input small.
MODELS = {
    "resnet18-tiny": (lambda: small_resnet(tv_resnet.BasicBlock, [2, 2, 2, 2], [4, 8, 16, 32], 10), (3, 64, 64), 2, "F16"),
    "resnet50-tiny": (lambda: small_resnet(tv_resnet.Bottleneck, [3, 4, 6, 3], [4, 8, 16, 32], 10), (3, 64, 64), 2, "F16"),
    "vgg11-bn-tiny": (lambda: small_vgg([8, "M", 16, "M", 32, 32, "M", 32, 32, "M"], True, 32, 10), (3, 112, 112), 1, "F16"),
    "vgg11-tiny": (lambda: small_vgg([8, "M", 16, "M", 32, 32, "M", 32, 32, "M"], False, 32, 10), (3, 112, 112), 1, "BF16"),
    "alexnet-tiny": (lambda: small_alexnet([8, 16, 16, 16, 16], 32, 10), (3, 224, 224), 1, "BF16"),
}

FULL = {
    "resnet18": (lambda: tv_resnet.resnet18(), (3, 224, 224), 2, "F32"),
    "resnet50": (lambda: tv_resnet.resnet50(), (3, 224, 224), 2, "F32"),
    "vgg16": (lambda: tv_vgg.vgg16(), (3, 224, 224), 1, "F32"),
    "vgg11-bn": (lambda: tv_vgg.vgg11_bn(), (3, 224, 224), 1, "F32"),
    "alexnet": (lambda: tv_alexnet.alexnet(), (3, 224, 224), 1, "F32"),
}


def round_to(dtype, model):
    """Rounds every float parameter and buffer to dtype, so that the reference is computed from exactly the values
    the file holds (the fixtures are stored in 16 bits to stay small; the forward pass is still float32)."""
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.to(DTYPES[dtype]).float())


def write_fixture(out, name, build, shape, batch, dtype, seed):
    torch.manual_seed(seed)
    model = build()
    randomise(model, seed)
    model.eval()
    g = torch.Generator().manual_seed(seed + 1)
    # The input is stored as F16: round it first so that both sides see the same values.
    x = torch.randn((batch,) + shape, generator=g).half().float()
    with torch.no_grad():
        logits = model(x)
        # Deep random networks can give logits in the hundreds, where softmax is one-hot and says nothing; scale the
        # last linear layer so that the logits spread over a few units.
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        scale = 3.0 / float(logits.std())
        head.weight.mul_(scale)
        head.bias.mul_(scale)
        round_to(dtype, model)
        logits = model(x)
    write_safetensors(os.path.join(out, name + ".safetensors"), model.state_dict(), dtype)
    write_safetensors(os.path.join(out, name + ".io.safetensors"), {"input": x.half()}, "F16")
    write_safetensors(os.path.join(out, name + ".out.safetensors"),
                      {"logits": logits, "softmax": torch.softmax(logits, dim=1)})
    params = sum(p.numel() for p in model.parameters())
    print(f"{name}: {params} parameters, logits range [{logits.min():.3f}, {logits.max():.3f}]", file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "resources", "transfer")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=default_out)
    p.add_argument("--full", action="store_true", help="full-size models instead of the reduced fixtures")
    p.add_argument("--only", nargs="*", help="model names to write (default: all)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    table = FULL if args.full else MODELS
    for i, (name, (build, shape, batch, dtype)) in enumerate(table.items()):
        if args.only and name not in args.only:
            continue
        write_fixture(args.out, name, build, shape, batch, dtype, 1234 + i)


if __name__ == "__main__":
    main()
