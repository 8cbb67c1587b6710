#!/bin/bash
# bench-serve_load: kiln serve under rising open-loop load on loopback, with
# adaptive batching (Clipper's AIMD, --max-batch 256) and with batches of
# one row (--max-batch 1, the same server otherwise), for the MNIST MLP and
# LeNet-5, beside each model's batched throughput in process at the same
# thread count (the ceiling). The load generator sends pre-encoded REST
# requests with the binary tensor data extension over keep-alive
# connections (-proto grpc: gRPC with raw_input_contents) and reports the
# CPU each request cost the server and itself. The models are trained for
# a few steps here: throughput does not depend on accuracy. Runs with 1,
# 16 and 64 images per request; the first gives the headline figures. Ends
# with one JSON line. The generator runs on the same machine as the server
# and shares its CPUs.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${KILN_TEST_DATA:-$(cd .. && pwd)/shared/data}/mnist
TAGS=$(scripts/blas-tags.sh 2>/dev/null || true)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags "$TAGS" -o "$tmp/kiln" ./cmd/kiln
go build -tags "$TAGS" -o "$tmp/serve_load" ./bench/serve_load
for m in mlp lenet5; do
	"$tmp/kiln" train --model "$m" --data mnist --data-dir "$DATA" --max-steps 30 --out "$tmp/repo/$m/1" >/dev/null
done
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$tmp/serve_load" -kiln "$tmp/kiln" -repo "$tmp/repo" -images "$DATA/t10k-images-idx3-ubyte.gz" -step "${STEP:-1500ms}" -rows "${ROWS:-1,16,64}" "$@"
