#!/bin/bash
# bench-train_vs_torch: trains MNIST models with Kiln and with PyTorch 1.13
# on the same data, batch, optimiser (SGD, momentum 0.9), init scheme and
# thread count, interleaved, REPS times each, and reports median training
# samples/s and the ratio Kiln/PyTorch. Both sides time the training loop
# only (batch gathering included, evaluation excluded). The headline ratio
# compares the two at PyTorch's best thread count. PyTorch runs with
# OMP_WAIT_POLICY=PASSIVE and OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = the
# thread count. Then it runs
# bench/sgemm. Ends with one JSON line.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${KILN_TEST_DATA:-$(cd .. && pwd)/shared/data}/mnist
REPS=${REPS:-5}
MLP_STEPS=${MLP_STEPS:-469}     # one epoch at batch 128
LENET_STEPS=${LENET_STEPS:-300}
export OMP_WAIT_POLICY=PASSIVE
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
	else
		echo "PyTorch (python3-torch) is missing" >&2
		exit 1
	fi
fi
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || [ -e "$DATA/train-images-idx3-ubyte" ] || { echo "MNIST not found in $DATA" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TAGS=$(scripts/blas-tags.sh)
go build -tags "$TAGS" -o "$tmp/kiln" ./cmd/kiln
echo "kiln built with BLAS backend: $("$tmp/kiln" version)"
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['train_samples_per_s'])"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_pair() { # model hidden batch steps threads
	local m=$1 h=$2 b=$3 s=$4 t=$5 tag=$PASS
	for r in $(seq "$REPS"); do
		"$tmp/kiln" train --model "$m" --hidden "$h" --data mnist --data-dir "$DATA" --epochs 1 --batch "$b" \
			--lr 0.05 --momentum 0.9 --threads "$t" --seed "$r" --max-steps "$s" --json 2>/dev/null | field >>"$tmp/$tag-kiln-$m-$t"
		# torch.set_num_threads does not reach Debian's OpenBLAS, which
		# would otherwise run PyTorch's GEMMs on every core: pin it too.
		OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 bench/train_vs_torch/torch_train.py --model "$m" --hidden "$h" --batch "$b" --epochs 1 \
			--lr 0.05 --momentum 0.9 --threads "$t" --seed "$r" --max-steps "$s" --data-dir "$DATA" | tail -1 | field >>"$tmp/$tag-torch-$m-$t"
	done
}
# OpenBLAS serves the GEMMs of both Kiln and PyTorch. This machine's
# environment sets OPENBLAS_CORETYPE=Haswell (AVX2 kernels); unset, OpenBLAS
# detects the CPU and picks its AVX-512 kernels. Both passes are run, each
# with the same setting on both sides; the headline figures are OpenBLAS's
# own choice ("auto"), the best setting for both.
MACHINE_CORETYPE=${OPENBLAS_CORETYPE:-}
passes="auto"
[ -n "$MACHINE_CORETYPE" ] && passes="auto machine"
for PASS in $passes; do
	if [ "$PASS" = auto ]; then unset OPENBLAS_CORETYPE; else export OPENBLAS_CORETYPE=$MACHINE_CORETYPE; fi
	for t in 1 2; do
		run_pair mlp 256,128 128 "$MLP_STEPS" "$t"
		run_pair lenet5 "" 64 "$LENET_STEPS" "$t"
	done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'); OPENBLAS_CORETYPE in the environment: ${MACHINE_CORETYPE:-unset}"
declare -A K P
best() { python3 -c "print(1 if $1 >= $2 else 2)"; }
for PASS in $passes; do
	label=$PASS
	[ "$PASS" = machine ] && label="OPENBLAS_CORETYPE=$MACHINE_CORETYPE"
	[ "$PASS" = auto ] && label="OpenBLAS kernels chosen by OpenBLAS"
	echo "-- $label"
	printf "%-8s %7s %14s %14s %7s\n" model threads kiln_samples/s torch_samples/s ratio
	for m in mlp lenet5; do
		for t in 1 2; do
			K[$PASS-$m-$t]=$(median <"$tmp/$PASS-kiln-$m-$t")
			P[$PASS-$m-$t]=$(median <"$tmp/$PASS-torch-$m-$t")
			printf "%-8s %7s %14.0f %14.0f %7.3f\n" "$m" "$t" "${K[$PASS-$m-$t]}" "${P[$PASS-$m-$t]}" "$(python3 -c "print(${K[$PASS-$m-$t]}/${P[$PASS-$m-$t]})")"
		done
	done
done
mb=$(best "${P[auto-mlp-1]}" "${P[auto-mlp-2]}")
lb=$(best "${P[auto-lenet5-1]}" "${P[auto-lenet5-2]}")
echo "PyTorch's best thread count: mlp $mb, lenet5 $lb (headline ratios compare Kiln at that count)"
sg=$(bash bench/sgemm/run.sh 2>/dev/null | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["sgemm_fraction_of_openblas"])' || echo null)
mh=null; lh=null
if [ -n "$MACHINE_CORETYPE" ]; then
	mh=$(python3 -c "print(round(${K[machine-mlp-$mb]}/${P[machine-mlp-$mb]}, 3))")
	lh=$(python3 -c "print(round(${K[machine-lenet5-$lb]}/${P[machine-lenet5-$lb]}, 3))")
fi
python3 - "$mb" "$lb" "${K[auto-mlp-$mb]}" "${P[auto-mlp-$mb]}" "${K[auto-lenet5-$lb]}" "${P[auto-lenet5-$lb]}" "$sg" "$mh" "$lh" "${MACHINE_CORETYPE:-}" <<'PY'
import json, sys
mb, lb, km, pm, kl, pl, sg, mh, lh, ct = sys.argv[1:]
num = lambda v: None if v == "null" else float(v)
print(json.dumps({"bench": "train_vs_torch",
    "mlp_kiln_samples_per_s": round(float(km)), "mlp_torch_samples_per_s": round(float(pm)), "mlp_torch_best_threads": int(mb),
    "mlp_ratio": round(float(km) / float(pm), 3),
    "lenet_kiln_samples_per_s": round(float(kl)), "lenet_torch_samples_per_s": round(float(pl)), "lenet_torch_best_threads": int(lb),
    "lenet_ratio": round(float(kl) / float(pl), 3),
    "mlp_ratio_coretype_env": num(mh), "lenet_ratio_coretype_env": num(lh), "openblas_coretype_env": ct or None,
    "sgemm_fraction_of_openblas": num(sg)}))
PY
