#!/usr/bin/python3
"""PyTorch DDP (gloo) side of bench-ddp_vs_torch: one rank of a
2-process job training the MNIST MLP until the test accuracy reaches the
target; rank 0 prints one JSON line with the wall time."""
import argparse, json, os, sys, time

import torch
import torch.distributed as dist
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "train_vs_torch"))
from torch_train import build, load  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--rank", type=int, required=True)
ap.add_argument("--world", type=int, default=2)
ap.add_argument("--addr", required=True)
ap.add_argument("--data-dir", required=True)
ap.add_argument("--batch", type=int, default=128, help="global batch, split across ranks")
ap.add_argument("--lr", type=float, default=0.05)
ap.add_argument("--target", type=float, default=0.97)
ap.add_argument("--max-epochs", type=int, default=20)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
xtr, ytr = load(a.data_dir, "train")
xte, yte = load(a.data_dir, "test")
xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
dist.init_process_group("gloo", init_method="tcp://" + a.addr, rank=a.rank, world_size=a.world)
model = nn.parallel.DistributedDataParallel(build("mlp", [256, 128]))
opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9)
lossf = nn.CrossEntropyLoss()
per = a.batch // a.world
start = time.perf_counter()
acc, epochs = 0.0, 0
for epoch in range(a.max_epochs):
    g = torch.Generator().manual_seed(epoch)
    perm = torch.randperm(len(ytr), generator=g)[a.rank::a.world]
    model.train()
    for i in range(0, len(perm) - per + 1, per):
        idx = perm[i:i + per]
        opt.zero_grad(set_to_none=True)
        lossf(model(xtr[idx]), ytr[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(xte).argmax(1) == yte).float().mean())
    epochs = epoch + 1
    if acc >= a.target:
        break
wall = time.perf_counter() - start
if a.rank == 0:
    print(json.dumps({"impl": "pytorch-ddp-gloo", "ranks": a.world, "epochs": epochs, "test_accuracy": acc, "wall_seconds": wall,
                      "reached_target": acc >= a.target}), flush=True)
dist.destroy_process_group()
