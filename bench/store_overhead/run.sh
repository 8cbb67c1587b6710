#!/bin/bash
# bench-store_overhead: the cost of recording every training step's
# metrics into the store while training the MNIST MLP (batch 32, one
# thread), measured against the same training without a recorder in one
# run (alternating phases), on SQLite and on PostgreSQL (-backend sqlite
# or postgres for one). Ends with one JSON line holding overhead_fraction. Data: KILN_TEST_DATA/mnist (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/../.."
export KILN_TEST_DATA=${KILN_TEST_DATA:-$(cd .. && pwd)/shared/data}
# The PostgreSQL arm starts its own server from Debian's postgresql.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags "$(scripts/blas-tags.sh 2>/dev/null || true)" -o "$tmp/store_overhead" ./bench/store_overhead
"$tmp/store_overhead" "$@"
