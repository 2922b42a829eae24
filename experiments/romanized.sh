#!/usr/bin/env bash
# The romanized-query experiment (issue 21) end to end; every cell is resumable (finished cells are reused,
# an interrupted training resumes from its checkpoint). LOCK: a file to flock around every cell.
#
#   LOCK=../heavy.lock bash experiments/romanized.sh          # this machine's plan (several sessions on 2 cores)
#   STEPS=3000 SEEDS=0,1,2,3,4 bash experiments/romanized.sh  # a longer run, for more cores or a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
common=(); [ -n "${LOCK:-}" ] && common+=(--lock "$LOCK")
# cells finished in earlier sessions (committed by romanized_report.py) are restored, never trained again
if [ -d docs/results/romanized/cells ]; then
  mkdir -p runs/romanized && cp -rn docs/results/romanized/cells/. runs/romanized/
fi
# 1. the learning rate, on held-out training text (MSE, 200 steps, seed 0); 2. the untrained model
"$PYTHON" experiments/romanized.py validate --lrs "${LRS:-2e-4,5e-4,1e-3}" --steps 200 "${common[@]}"
"$PYTHON" experiments/romanized.py zero-shot "${common[@]}"
LR=$("$PYTHON" experiments/romanized.py choose-lr)
echo "learning rate chosen on validation: $LR"
# 3. every objective, seed by seed (a whole seed lands before the next starts)
for seed in $(echo "${SEEDS:-0,1,2}" | tr ',' ' '); do
  "$PYTHON" experiments/romanized.py train --objectives mse,ot+sentence,ot --seeds "$seed" --lr "$LR" \
    --steps "${STEPS:-1000}" "${common[@]}"
done
"$PYTHON" experiments/romanized_report.py   # also keeps the finished cells under docs/results/romanized/cells
