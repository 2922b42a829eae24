#!/bin/bash
# Run after the main table (experiments/optical_flores.py --steps 58 ...), which it reuses for zero-shot.
# Usage: [PYTHON=.venv/bin/python] bash experiments/ot_variants.sh  (about 4 min per variant on 2 cores;
# results in docs/results/ot_variants/; on a shared machine: flock ../heavy.lock bash experiments/ot_variants.sh)
# OT variants after the max-length fix; symmetric evaluation, same 58 steps x 16 pairs, seed 0.
cd "$(dirname "$0")/.."
common="--steps 58 --eval-languages npi,sin,hin,mar --eval-split dev --threads 2 --output runs/optical_flores --results docs/results/ot_variants"
mkdir -p runs
run() { tag=$1; shift; echo "=== $tag $(date +%T)"; "${PYTHON:-python}" experiments/optical_flores.py $common --tag "$tag" "$@" > runs/ot_variants$tag.log 2>&1; echo "rc=$? $(date +%T)"; }
run _lr1e-5 --conditions zero-shot,ot --lr 1e-5
run _cosine-sentence --conditions zero-shot,ot+sentence --sentence-loss cosine --sentence-weight 1
run _exclude-special --conditions zero-shot,ot --exclude-special-tokens
run _reg0.1 --conditions zero-shot,ot --reg 0.1
run _sqeuclidean --conditions zero-shot,ot --cost sqeuclidean
run _idf --conditions zero-shot,ot --marginals idf
echo "=== done $(date +%T)"
