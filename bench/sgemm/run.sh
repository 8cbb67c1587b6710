#!/bin/bash
# bench-sgemm: float32 N×N×N GEMM (C = A·B, N = 1024 by default) through
# Kiln's openblas backend (bench/sgemm/kiln built with -tags openblas)
# against OpenBLAS's cblas_sgemm called directly from C (direct.c), at the
# same thread count, in one run: ROUNDS rounds, each running both programs
# (order alternating between rounds) and the pure-Go gonum backend for
# reference. Each program warms up with 3 calls, times REPS calls and
# reports the median GFLOP/s; the table shows the median over rounds.
# The last line of output is one JSON object.
#
# usage: bench/sgemm/run.sh [-threads T] [-n N] [-rounds R] [-reps REPS]
# (defaults 1, 1024, 5, 15; the variables THREADS, N, ROUNDS, REPS too).
# Binaries go to a temporary directory that is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-1}
N=${N:-1024}
ROUNDS=${ROUNDS:-5}
REPS=${REPS:-15}
while [ $# -gt 0 ]; do
	case "$1" in
	-threads) THREADS=$2; shift 2 ;;
	-n) N=$2; shift 2 ;;
	-rounds) ROUNDS=$2; shift 2 ;;
	-reps) REPS=$2; shift 2 ;;
	*) echo "bench/sgemm/run.sh: unknown argument $1 (want -threads, -n, -rounds, -reps)" >&2; exit 2 ;;
	esac
done

# scripts/blas-tags.sh installs libopenblas-dev when it is missing and we
# are root on Debian, and prints "openblas" when OpenBLAS builds and runs.
if [ "$(scripts/blas-tags.sh)" != openblas ]; then
	echo "bench/sgemm: OpenBLAS is not available (libopenblas-dev, gcc and root on Debian needed to install it)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/direct" bench/sgemm/direct.c -lopenblas -lm
go build -tags openblas -o "$tmp/kiln" ./bench/sgemm/kiln
go build -o "$tmp/kiln-gonum" ./bench/sgemm/kiln

# Both OpenBLAS programs start with the same thread pool size.
export OPENBLAS_NUM_THREADS=$THREADS

field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
kiln() { "$tmp/kiln" -n "$N" -threads "$THREADS" -reps "$REPS" | tee -a "$tmp/log" | field gflops >>"$tmp/k"; }
direct() { "$tmp/direct" "$N" "$THREADS" "$REPS" | tee -a "$tmp/log" | field gflops >>"$tmp/d"; }
: >"$tmp/k"; : >"$tmp/d"; : >"$tmp/g"; : >"$tmp/log"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then kiln; direct; else direct; kiln; fi
	# gonum is slower: fewer repetitions keep the run short.
	"$tmp/kiln-gonum" -n "$N" -threads "$THREADS" -reps 3 | tee -a "$tmp/log" | field gflops >>"$tmp/g"
done
for f in k d g; do
	if [ "$(wc -l <"$tmp/$f")" != "$ROUNDS" ]; then
		echo "bench/sgemm: a program failed; its output:" >&2
		cat "$tmp/log" >&2
		exit 1
	fi
done

k=$(median <"$tmp/k"); d=$(median <"$tmp/d"); g=$(median <"$tmp/g")
frac=$(awk -v k="$k" -v d="$d" 'BEGIN {printf "%.4f", k / d}')
core=$(grep -m1 '"openblas-direct"' "$tmp/log" | field core)
kcore=$(grep -m1 '"kiln-openblas"' "$tmp/log" | field core)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores visible"
echo "openblas: kernels $core (direct), $kcore (kiln); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "sgemm ${N}x${N}x${N} float32, $THREADS thread(s), $ROUNDS rounds x $REPS reps, median GFLOP/s:"
printf "  %-30s %8.2f   (rounds: %s)\n" \
	"kiln openblas backend" "$k" "$(paste -sd' ' "$tmp/k")" \
	"openblas cblas_sgemm from C" "$d" "$(paste -sd' ' "$tmp/d")" \
	"kiln gonum backend (pure Go)" "$g" "$(paste -sd' ' "$tmp/g")"
echo "  kiln/openblas: $frac"
echo "{\"bench\":\"sgemm\",\"n\":$N,\"threads\":$THREADS,\"kiln_gflops\":$k,\"openblas_gflops\":$d,\"gonum_gflops\":$g,\"sgemm_fraction_of_openblas\":$frac}"
