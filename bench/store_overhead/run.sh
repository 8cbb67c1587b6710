#!/bin/bash
# bench-store_overhead: the cost of recording every training step's
# metrics into the store while training the MNIST MLP (batch 32, one
# thread), measured against the same training without a recorder in one
# run (alternating phases). Ends with one JSON line holding
# overhead_fraction. Data: KILN_TEST_DATA/mnist (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/../.."
export KILN_TEST_DATA=${KILN_TEST_DATA:-$(cd .. && pwd)/shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags "$(scripts/blas-tags.sh 2>/dev/null || true)" -o "$tmp/store_overhead" ./bench/store_overhead
"$tmp/store_overhead" "$@"
