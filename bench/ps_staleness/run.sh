#!/bin/bash
# bench-ps_staleness: the MNIST MLP on a parameter server (2 servers, 3
# workers, global batch 96, SGD lr 0.05 momentum 0.9 on the servers) with
# worker 2 slowed 3×, under sync, async and SSP (staleness 2), one run
# each after another, REPS times: time until worker 0's test accuracy
# reaches 97% and the final accuracy after EPOCHS epochs. Ends with one
# JSON line.
set -euo pipefail
cd "$(dirname "$0")/../.."
CORES=$(nproc)
DATA=${KILN_TEST_DATA:-$(cd .. && pwd)/shared/data}/mnist
REPS=${REPS:-2}
EPOCHS=${EPOCHS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags "$(scripts/blas-tags.sh)" -o "$tmp/kiln" ./cmd/kiln
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for r in $(seq "$REPS"); do
	for mode in sync async ssp; do
		"$tmp/kiln" train --model mlp --hidden 256,128 --data mnist --data-dir "$DATA" --epochs "$EPOCHS" --batch 96 --lr 0.05 \
			--momentum 0.9 --nproc 3 --strategy ps --ps-servers 2 --ps-mode "$mode" --staleness 2 --straggler 2 \
			--straggler-factor 3 --target-accuracy 0.97 --rdzv-endpoint "127.0.0.1:$(port)" --json 2>/dev/null |
			python3 -c "import json,sys; d=json.load(sys.stdin); print('$mode', d.get('time_to_target_s') or 'nan', d['test_accuracy'], d['wall_seconds'])" >>"$tmp/runs"
	done
done
echo "machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); 2 servers, 3 workers, worker 2 slowed 3x, $EPOCHS epochs"
python3 - "$tmp/runs" <<'PY'
import json, math, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    mode, ttt, acc, wall = line.split()
    runs.setdefault(mode, []).append((float(ttt), float(acc), float(wall)))
out = {"bench": "ps_staleness"}
print(f"{'mode':6} {'time to 97% (s)':>16} {'final accuracy':>15} {'worker 0 wall (s)':>18}")
for mode in ("sync", "async", "ssp"):
    r = runs[mode]
    t = statistics.median(x[0] for x in r)
    a = statistics.median(x[1] for x in r)
    w = statistics.median(x[2] for x in r)
    print(f"{mode:6} {t:>16.2f} {a:>15.4f} {w:>18.2f}")
    out[f"{mode}_time_to_97_s"] = None if math.isnan(t) else round(t, 2)
    out[f"{mode}_final_acc"] = round(a, 4)
print(json.dumps(out))
PY
