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
	local m=$1 h=$2 b=$3 s=$4 t=$5
	for r in $(seq "$REPS"); do
		"$tmp/kiln" train --model "$m" --hidden "$h" --data mnist --data-dir "$DATA" --epochs 1 --batch "$b" \
			--lr 0.05 --momentum 0.9 --threads "$t" --seed "$r" --max-steps "$s" --json 2>/dev/null | field >>"$tmp/kiln-$m-$t"
		# torch.set_num_threads does not reach Debian's OpenBLAS, which
		# would otherwise run PyTorch's GEMMs on every core: pin it too.
		OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 bench/train_vs_torch/torch_train.py --model "$m" --hidden "$h" --batch "$b" --epochs 1 \
			--lr 0.05 --momentum 0.9 --threads "$t" --seed "$r" --max-steps "$s" --data-dir "$DATA" | tail -1 | field >>"$tmp/torch-$m-$t"
	done
}
for t in 1 2; do
	run_pair mlp 256,128 128 "$MLP_STEPS" "$t"
	run_pair lenet5 "" 64 "$LENET_STEPS" "$t"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
printf "%-8s %7s %14s %14s %7s\n" model threads kiln_samples/s torch_samples/s ratio
declare -A K P
for m in mlp lenet5; do
	for t in 1 2; do
		K[$m-$t]=$(median <"$tmp/kiln-$m-$t")
		P[$m-$t]=$(median <"$tmp/torch-$m-$t")
		printf "%-8s %7s %14.0f %14.0f %7.3f\n" "$m" "$t" "${K[$m-$t]}" "${P[$m-$t]}" "$(python3 -c "print(${K[$m-$t]}/${P[$m-$t]})")"
	done
done
best() { python3 -c "print(1 if $1 >= $2 else 2)"; }
mb=$(best "${P[mlp-1]}" "${P[mlp-2]}")
lb=$(best "${P[lenet5-1]}" "${P[lenet5-2]}")
echo "PyTorch's best thread count: mlp $mb, lenet5 $lb (ratios below compare Kiln at that count)"
sg=$(bash bench/sgemm/run.sh 2>/dev/null | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["sgemm_fraction_of_openblas"])' || echo null)
python3 - "$mb" "$lb" "${K[mlp-$mb]}" "${P[mlp-$mb]}" "${K[lenet5-$lb]}" "${P[lenet5-$lb]}" "$sg" <<'PY'
import json, sys
mb, lb, km, pm, kl, pl, sg = sys.argv[1:]
print(json.dumps({"bench": "train_vs_torch",
    "mlp_kiln_samples_per_s": round(float(km)), "mlp_torch_samples_per_s": round(float(pm)), "mlp_torch_best_threads": int(mb),
    "mlp_ratio": round(float(km) / float(pm), 3),
    "lenet_kiln_samples_per_s": round(float(kl)), "lenet_torch_samples_per_s": round(float(pl)), "lenet_torch_best_threads": int(lb),
    "lenet_ratio": round(float(kl) / float(pl), 3),
    "sgemm_fraction_of_openblas": None if sg == "null" else float(sg)}))
PY
