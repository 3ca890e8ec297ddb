#!/usr/bin/python3
"""Converts a PyTorch state dict (.pth / .pt) into safetensors, the format `zoo4j weights import` reads.

    /usr/bin/python3 src/main/python/pth_to_safetensors.py resnet18-f37072fd.pth resnet18.safetensors

zoo4j's Java side never unpickles (a pickle can run code). This script loads with torch.load(weights_only=True), which
refuses pickles holding anything other than tensors and plain containers. Needs PyTorch (Debian: python3-torch; run
with /usr/bin/python3). The output is written beside its target and renamed into place, so it is never half-written.
Float tensors keep their dtype when it is F32, F16 or BF16 (F64 becomes F32); integer buffers such as
num_batches_tracked are written as I64 (zoo4j ignores them).
"""
import argparse
import json
import os
import struct
import sys

import torch

FLOATS = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def state_dict_of(obj):
    """A bare state dict, or the one inside a training checkpoint ({'state_dict': ...} or {'model': ...})."""
    if isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            return state_dict_of(obj[key])
    raise SystemExit("not a state dict: expected a mapping of names to tensors (or a checkpoint holding one)")


def encode(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.float64:
        t = t.float()
    if t.dtype in FLOATS:
        kind = FLOATS[t.dtype]
        data = t.view(torch.int16).numpy().astype("<i2").tobytes() if t.dtype != torch.float32 \
            else t.numpy().astype("<f4").tobytes()
        return kind, data
    if t.dtype in (torch.int64, torch.int32, torch.uint8, torch.bool):
        return {"torch.int64": "I64", "torch.int32": "I32", "torch.uint8": "U8", "torch.bool": "BOOL"}[str(t.dtype)], \
            t.numpy().astype({torch.int64: "<i8", torch.int32: "<i4", torch.uint8: "u1", torch.bool: "?"}[t.dtype]).tobytes()
    raise SystemExit(f"tensor dtype {t.dtype} is not supported")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pth")
    p.add_argument("out")
    p.add_argument("--strip-prefix", default="", help="remove this prefix from names (e.g. 'module.' of DataParallel)")
    args = p.parse_args()
    try:
        obj = torch.load(args.pth, map_location="cpu", weights_only=True)
    except TypeError:
        raise SystemExit("this PyTorch has no torch.load(weights_only=True); refusing to unpickle without it")
    state = state_dict_of(obj)
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        if args.strip_prefix and name.startswith(args.strip_prefix):
            name = name[len(args.strip_prefix):]
        kind, data = encode(t)
        header[name] = {"dtype": kind, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt", "source": os.path.basename(args.pth)}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = args.out + ".part"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(state)} tensors, {offset} bytes of data", file=sys.stderr)


if __name__ == "__main__":
    main()
