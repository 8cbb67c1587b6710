#!/usr/bin/python3
"""PyTorch side of bench-train_vs_torch: trains the same models as Kiln on
MNIST and prints one JSON line with training samples per second.

The data is loaded into tensors once (no DataLoader), which is PyTorch's
fastest setting for a data set this small; each epoch draws a randperm and
slices batches by index. Only the training steps are timed, after 5
warm-up steps.
"""
import argparse, gzip, json, os, struct, sys, time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    op = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with op(path, "rb") as f:
        zero, typ, nd = struct.unpack(">HBB", f.read(4))
        dims = struct.unpack(">" + "I" * nd, f.read(4 * nd))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def find(d, base):
    for name in (base, base + ".gz"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    sys.exit(f"{base} not found in {d}")


def load(d, split):
    pre = "train" if split == "train" else "t10k"
    x = read_idx(find(d, pre + "-images-idx3-ubyte")).astype(np.float32) / 255.0
    x = (x - 0.1307) / 0.3081
    y = read_idx(find(d, pre + "-labels-idx1-ubyte")).astype(np.int64)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def build(model, hidden):
    if model == "mlp":
        layers, prev = [], 784
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        return nn.Sequential(*layers, nn.Linear(prev, 10))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mlp", choices=["mlp", "lenet5"])
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--eval", action="store_true")
    a = ap.parse_args()
    if os.environ.get("OMP_WAIT_POLICY") != "PASSIVE":
        print("warning: OMP_WAIT_POLICY=PASSIVE is not set", file=sys.stderr)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data_dir, "train")
    if a.model == "mlp":
        xtr = xtr.reshape(len(xtr), -1)
    model = build(a.model, [int(h) for h in a.hidden.split(",") if h])
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    lossf = nn.CrossEntropyLoss()
    n, steps, timed, samples, loss = len(ytr), 0, 0.0, 0, None
    warm = 5
    done = False
    for epoch in range(a.epochs):
        perm = torch.randperm(n)
        for i in range(0, n, a.batch):
            if a.max_steps and steps >= a.max_steps:
                done = True
                break
            idx = perm[i:i + a.batch]
            t0 = time.perf_counter()
            xb, yb = xtr.index_select(0, idx), ytr.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()
            dt = time.perf_counter() - t0
            steps += 1
            if steps > warm:
                timed += dt
                samples += len(idx)
        if done:
            break
    out = {"framework": "pytorch", "torch_version": torch.__version__, "model": a.model, "threads": a.threads,
           "batch": a.batch, "steps": steps, "train_samples_per_s": samples / timed if timed else None,
           "final_loss": float(loss) if loss is not None else None}
    if a.eval:
        xte, yte = load(a.data_dir, "test")
        if a.model == "mlp":
            xte = xte.reshape(len(xte), -1)
        model.eval()
        with torch.no_grad():
            out["test_accuracy"] = float((model(xte).argmax(1) == yte).float().mean())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
