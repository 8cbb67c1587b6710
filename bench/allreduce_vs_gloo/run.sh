#!/bin/bash
# bench-allreduce_vs_gloo: all-reduce of float32 buffers from 4 KB to 256 MB
# between 2 processes on one machine, Kiln against PyTorch 1.13's gloo, in
# one run (Kiln over TCP loopback, Kiln with its default same-machine
# transport (Unix sockets), then gloo over TCP loopback, ROUNDS times;
# medians). Prints latency and algorithm bandwidth (bytes / latency) per
# size and ends with one JSON line; the headline ratios are Kiln's default
# transport against gloo, the *_tcp ratios Kiln over TCP loopback.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-2}
SIZES=${SIZES:-4096,65536,1048576,16777216,104857600,268435456}
CORES=$(nproc)
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
if ! /usr/bin/python3 -c 'import torch.distributed' 2>/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
	else
		echo "PyTorch (python3-torch) is missing" >&2
		exit 1
	fi
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT
go build -o "$tmp/kiln" ./bench/allreduce_vs_gloo/kiln
port=$((29600 + RANDOM % 200))
for r in $(seq "$ROUNDS"); do
	port=$((port + 2))
	for tr in tcp auto; do
		port=$((port + 1))
		"$tmp/kiln" -rank 1 -world 2 -store 127.0.0.1:$port -sizes "$SIZES" -transport $tr >/dev/null &
		"$tmp/kiln" -rank 0 -world 2 -store 127.0.0.1:$port -sizes "$SIZES" -transport $tr >>"$tmp/kiln-$tr.jsonl"
		wait
	done
	port=$((port + 2))
	/usr/bin/python3 bench/allreduce_vs_gloo/gloo.py --rank 1 --addr 127.0.0.1:$port --sizes "$SIZES" >/dev/null &
	/usr/bin/python3 bench/allreduce_vs_gloo/gloo.py --rank 0 --addr 127.0.0.1:$port --sizes "$SIZES" >>"$tmp/gloo.jsonl"
	wait
done
echo "machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); 2 processes on loopback"
python3 - "$tmp/kiln-auto.jsonl" "$tmp/gloo.jsonl" "$tmp/kiln-tcp.jsonl" <<'PY'
import json, statistics, sys
def load(p):
    out = {}
    for line in open(p):
        d = json.loads(line)
        out.setdefault(d["bytes"], []).append(d["latency_s"])
    return {k: statistics.median(v) for k, v in out.items()}
k, g, kt = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
print("kiln = Kiln's default transport (Unix sockets between processes on one machine); kiln-tcp = Kiln over TCP loopback; gloo = TCP loopback")
print(f"{'bytes':>11} {'kiln ms':>9} {'kiln-tcp ms':>11} {'gloo ms':>9} {'kiln GB/s':>10} {'tcp GB/s':>9} {'gloo GB/s':>10} {'ratio':>6} {'tcp ratio':>9}")
for b in sorted(k):
    print(f"{b:>11} {k[b]*1e3:>9.3f} {kt[b]*1e3:>11.3f} {g[b]*1e3:>9.3f} {b/k[b]/1e9:>10.3f} {b/kt[b]/1e9:>9.3f} {b/g[b]/1e9:>10.3f} {g[b]/k[b]:>6.2f} {g[b]/kt[b]:>9.2f}")
near = lambda d, t: min(d, key=lambda b: abs(b - t))
b100, b4 = near(k, 100 << 20), near(k, 4096)
print(json.dumps({"bench": "allreduce_vs_gloo",
    "kiln_gbps_100mb": round(b100 / k[b100] / 1e9, 3), "gloo_gbps_100mb": round(b100 / g[b100] / 1e9, 3),
    "bandwidth_ratio_100mb": round(g[b100] / k[b100], 3),
    "kiln_latency_us_4kb": round(k[b4] * 1e6, 1), "gloo_latency_us_4kb": round(g[b4] * 1e6, 1),
    "latency_ratio_4kb": round(k[b4] / g[b4], 3),
    "bandwidth_ratio_100mb_tcp": round(g[b100] / kt[b100], 3), "latency_ratio_4kb_tcp": round(kt[b4] / g[b4], 3)}))
PY
