#!/usr/bin/python3
"""PyTorch 1.13 gloo side of bench-allreduce_vs_gloo: one rank; rank 0
prints one JSON line per size with the median all-reduce latency."""
import argparse, json, os, time

import torch
import torch.distributed as dist

ap = argparse.ArgumentParser()
ap.add_argument("--rank", type=int, required=True)
ap.add_argument("--world", type=int, default=2)
ap.add_argument("--addr", default="127.0.0.1:29610")
ap.add_argument("--sizes", default="4096,65536,1048576,16777216,104857600,268435456")
ap.add_argument("--reps", type=int, default=10)
a = ap.parse_args()
torch.set_num_threads(1)
dist.init_process_group("gloo", init_method="tcp://" + a.addr, rank=a.rank, world_size=a.world)
for s in a.sizes.split(","):
    nbytes = int(s)
    x = torch.ones(nbytes // 4, dtype=torch.float32)
    r = a.reps
    if nbytes > 64 << 20:
        r = max(3, r // 3)
    elif nbytes <= 1 << 20:
        r *= 50
    ts = []
    for i in range(-2, r):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(x)
        if i >= 0:
            ts.append(time.perf_counter() - t0)
    ts.sort()
    med = ts[len(ts) // 2]
    if a.rank == 0:
        print(json.dumps({"impl": "gloo", "bytes": nbytes, "latency_s": med, "algbw_gbps": nbytes / med / 1e9}), flush=True)
dist.destroy_process_group()
