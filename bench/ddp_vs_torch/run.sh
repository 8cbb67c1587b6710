#!/bin/bash
# bench-ddp_vs_torch: the MNIST MLP (784-256-128-10, global batch 128, SGD
# lr 0.05 momentum 0.9) trained until its test accuracy reaches 97%, in one
# run: Kiln in 1 process, Kiln DDP with 2 processes, PyTorch DDP (gloo)
# with 2 processes, one thread each, REPS times interleaved; median time
# from the start of training to the end of the epoch that reached the
# target (training and per-epoch evaluation; data loading, process start
# and rendezvous excluded on both sides). Ends with one JSON line.
set -euo pipefail
cd "$(dirname "$0")/../.."
CORES=$(nproc)
DATA=${KILN_TEST_DATA:-$(cd .. && pwd)/shared/data}/mnist
REPS=${REPS:-3}
TARGET=${TARGET:-0.97}
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
/usr/bin/python3 -c 'import torch.distributed' 2>/dev/null || {
	[ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null || { echo "python3-torch missing" >&2; exit 1; }
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags "$(scripts/blas-tags.sh)" -o "$tmp/kiln" ./cmd/kiln
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
k() { "$tmp/kiln" train --model mlp --hidden 256,128 --data mnist --data-dir "$DATA" --epochs 20 --batch 128 --lr 0.05 \
	--momentum 0.9 --threads 1 --target-accuracy "$TARGET" --json "$@" 2>/dev/null |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("time_to_target_s") or float("nan"), d["test_accuracy"], len(d["epochs"]))'; }
for r in $(seq "$REPS"); do
	k >>"$tmp/k1"
	k --nproc 2 --rdzv-endpoint "127.0.0.1:$(port)" >>"$tmp/k2"
	p=$(port)
	/usr/bin/python3 bench/ddp_vs_torch/torch_ddp.py --rank 1 --addr 127.0.0.1:$p --data-dir "$DATA" --target "$TARGET" >/dev/null &
	/usr/bin/python3 bench/ddp_vs_torch/torch_ddp.py --rank 0 --addr 127.0.0.1:$p --data-dir "$DATA" --target "$TARGET" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["wall_seconds"], d["test_accuracy"], d["epochs"])' >>"$tmp/t2"
	wait
done
echo "machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); target test accuracy $TARGET"
python3 - "$tmp/k1" "$tmp/k2" "$tmp/t2" <<'PY'
import json, statistics, sys
rows = []
for name, path in zip(["kiln 1 process", "kiln DDP 2 processes", "pytorch DDP gloo 2 processes"], sys.argv[1:]):
    runs = [tuple(map(float, l.split())) for l in open(path)]
    wall = statistics.median(r[0] for r in runs)
    rows.append((name, wall, runs))
    print(f"{name:32} median {wall:7.2f} s   runs (s, acc, epochs): " + ", ".join(f"({w:.2f}, {a:.4f}, {int(e)})" for w, a, e in runs))
k1, k2, t2 = (r[1] for r in rows)
print(json.dumps({"bench": "ddp_vs_torch", "kiln_1proc_s": round(k1, 2), "kiln_ddp2_s": round(k2, 2), "torch_ddp2_s": round(t2, 2),
                  "kiln_ddp2_vs_torch_ddp2": round(t2 / k2, 3)}))
PY
