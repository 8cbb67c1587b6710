#!/usr/bin/python3
"""Writes the PyTorch test vectors that nn's Go tests check Kiln against
(nn/testdata/torchstep/*.safetensors): initial weights, two batches of real
MNIST images, the first step's logits, loss and gradients, and the weights
after each of two optimizer steps. The safetensors writer is written out
here by hand (PyTorch 1.13 has none), and --verify reads every file back
with an independent reader and compares it with PyTorch.

usage: gen_vectors.py --data-dir ../shared/data/mnist --out nn/testdata/torchstep [--verify]
"""
import argparse, json, os, struct, sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from torch_train import build, load  # noqa: E402


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous()
        if t.dtype == torch.int64:
            dtype, raw = "I64", t.numpy().astype("<i8").tobytes()
        else:
            dtype, raw = "F32", t.float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = metadata
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    hdr = json.loads(b[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    data = b[8 + n:]
    out = {}
    for name, e in hdr.items():
        lo, hi = e["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[e["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[lo:hi], dtype=dt).reshape(e["shape"]).copy())
    return out, meta


def model_step_vectors(model_name, hidden, opt_name, opt_kw, batch, xs, ys):
    torch.manual_seed(0)
    model = build(model_name, hidden)
    if model_name == "mlp":
        xs = [x.reshape(len(x), -1) for x in xs]
    tensors = [("init." + k, v.clone()) for k, v in model.state_dict().items()]
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[opt_name](model.parameters(), **opt_kw)
    for step in range(2):
        x, y = xs[step], ys[step]
        tensors += [(f"x{step}", x), (f"y{step}", y)]
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if step == 0:
            tensors.append(("logits0", logits))
            tensors += [("grad0." + k, p.grad.clone()) for k, p in model.named_parameters()]
        tensors.append((f"loss{step}", loss.reshape([])))
        opt.step()
        tensors += [(f"after{step}." + k, v.clone()) for k, v in model.state_dict().items()]
    meta = {"model": model_name, "hidden": ",".join(map(str, hidden)), "optimizer": opt_name,
            "torch_version": torch.__version__, "batch": str(batch)}
    meta.update({k: str(v) for k, v in opt_kw.items()})
    return tensors, meta


def activation_vectors():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 5, generator=g, requires_grad=True)
    targets = torch.softmax(torch.randn(4, 5, generator=g) * 2, dim=1)
    loss = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
    loss.backward()
    gx = (torch.rand(64, generator=g) * 8 - 4).requires_grad_()
    gy = F.gelu(gx)
    gy.sum().backward()
    lx = torch.randn(3, 7, generator=g, requires_grad=True)
    lw = (torch.randn(7, generator=g) * 0.5 + 1).requires_grad_()
    lb = (torch.randn(7, generator=g) * 0.1).requires_grad_()
    ly = F.layer_norm(lx, [7], lw, lb, 1e-5)
    lg = torch.randn(3, 7, generator=g)
    (ly * lg).sum().backward()
    return [("soft_logits", logits), ("soft_targets", targets), ("soft_loss", loss.reshape([])), ("soft_grad", logits.grad),
            ("gelu_x", gx), ("gelu_y", gy), ("gelu_grad", gx.grad),
            ("ln_x", lx), ("ln_weight", lw), ("ln_bias", lb), ("ln_y", ly), ("ln_g", lg),
            ("ln_grad_x", lx.grad), ("ln_grad_weight", lw.grad), ("ln_grad_bias", lb.grad)], {"torch_version": torch.__version__}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--verify", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    x, y = load(a.data_dir, "train")
    files = {}
    for name, model, hidden, opt, kw, bs in [
        ("mlp_sgd", "mlp", [32, 16], "sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0005}, 16),
        ("mlp_adam", "mlp", [32, 16], "adam", {"lr": 0.001}, 16),
        ("mlp_adamw", "mlp", [32, 16], "adamw", {"lr": 0.001, "weight_decay": 0.01}, 16),
        ("lenet5_sgd", "lenet5", [], "sgd", {"lr": 0.05, "momentum": 0.9}, 8),
    ]:
        xs, ys = [x[0:bs], x[bs:2 * bs]], [y[0:bs], y[bs:2 * bs]]
        files[name] = model_step_vectors(model, hidden, opt, kw, bs, xs, ys)
    files["softce"] = activation_vectors()
    for name, (tensors, meta) in files.items():
        path = os.path.join(a.out, name + ".safetensors")
        write_safetensors(path, tensors, meta)
        print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")
        if a.verify:
            back, m2 = read_safetensors(path)
            assert m2 == meta, (m2, meta)
            for k, v in tensors:
                assert torch.equal(back[k], v.detach().float() if v.dtype != torch.int64 else v), k
            print(f"verified {path}")


if __name__ == "__main__":
    main()
