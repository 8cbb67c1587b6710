#!/bin/bash
# bench-label_fit: time Kiln's matrix-completion label model fitting a
# synthetic 1,000,000 × 100 binary label matrix (10% coverage per function,
# accuracies in [0.55, 0.95]); median of REPS fits. Snorkel 0.10's
# LabelModel.fit takes 4.5 s here on such a matrix. Ends with one JSON line.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${REPS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/label_fit" ./bench/label_fit
"$tmp/label_fit" -reps "$REPS" "$@"
