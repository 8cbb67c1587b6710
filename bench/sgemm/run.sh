#!/bin/bash
# bench-sgemm: float32 N³ GEMM through Kiln's openblas backend against
# OpenBLAS's cblas_sgemm called directly from C, in one run, interleaved,
# ROUNDS rounds each of REPS repetitions; medians. The pure-Go backend is
# timed too, for reference. Ends with one JSON line.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1024}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
TAGS=$(scripts/blas-tags.sh)
if [ "$TAGS" != openblas ]; then
	echo "bench-sgemm needs OpenBLAS (libopenblas-dev)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/direct" bench/sgemm/direct.c -lopenblas
go build -tags openblas -o "$tmp/kiln" ./bench/sgemm/kiln
go build -o "$tmp/kiln-go" ./bench/sgemm/kiln
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
gf() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["gflops"])'; }
: >"$tmp/k"; : >"$tmp/d"; : >"$tmp/g"
for r in $(seq "$ROUNDS"); do
	"$tmp/kiln" -n "$N" -threads "$THREADS" | gf >>"$tmp/k"
	"$tmp/direct" "$N" "$THREADS" 15 | gf >>"$tmp/d"
	"$tmp/kiln-go" -n "$N" -threads "$THREADS" -reps 3 | gf >>"$tmp/g"
done
k=$(median <"$tmp/k"); d=$(median <"$tmp/d"); g=$(median <"$tmp/g")
frac=$(python3 -c "print(round($k/$d, 4))")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf "%-28s %10s\n" "sgemm ${N}^3, ${THREADS} thread(s)" "GFLOP/s"
printf "%-28s %10.1f\n" "kiln (openblas backend)" "$k" "openblas cblas_sgemm direct" "$d" "kiln (pure-Go gonum)" "$g"
echo "kiln/openblas: $frac"
echo "{\"bench\":\"sgemm\",\"n\":$N,\"threads\":$THREADS,\"kiln_gflops\":$k,\"openblas_gflops\":$d,\"gonum_gflops\":$g,\"sgemm_fraction_of_openblas\":$frac}"
