#!/bin/bash
# The main job end to end: pull MNIST, train the MLP for one epoch,
# evaluate it and save it under KILN_HOME/models/quickstart.
set -euo pipefail
KILN=${1:-bin/kiln}
HOME_DIR=${KILN_HOME:-$HOME/.kiln}
OUT="$HOME_DIR/models/quickstart"
start=$(date +%s)
echo "== kiln data pull mnist"
"$KILN" data pull mnist
echo "== kiln train --model mlp --hidden 256,128 --epochs 1"
"$KILN" train --model mlp --hidden 256,128 --data mnist --epochs 1 --batch 64 --lr 0.05 --momentum 0.9 --threads "$(nproc)" --out "$OUT"
echo "== kiln eval"
"$KILN" eval --model "$OUT" --threads "$(nproc)"
echo "== kiln predict (first 3 test images)"
"$KILN" predict --model "$OUT" --limit 3 "$HOME_DIR/datasets/mnist/t10k-images-idx3-ubyte.gz"
echo "model saved in $OUT ($(( $(date +%s) - start )) s)"
