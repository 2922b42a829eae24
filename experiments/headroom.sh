#!/usr/bin/env bash
# The headroom experiment end to end, as run for docs/results/headroom (README, docs/training.md).
# Every step is resumable: finished cells are reused, an interrupted training resumes from its checkpoint.
# LOCK: a file to flock around every cell when other heavy jobs share the machine (empty: no locking).
#
#   LOCK=../heavy.lock bash experiments/headroom.sh     # this machine's plan (about 3 h on 2 cores, plus 45 min for the L2/L4/L9 rungs)
#   FULL=1 bash experiments/headroom.sh                 # the full-size run, for more cores or a GPU
#
# This machine's plan: 300 steps x 16 pairs (4,800 of the 18,811 training pairs), 3 seeds, FLORES-200 for
# Nepali/Sinhala and Hindi/Marathi/Bengali. The full-size plan: one epoch over all pairs per setting
# (about 1,176 steps), the English-retrieval teacher too, 5 seeds, all 15 languages, in runs/headroom-full.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
LOCK=${LOCK:-}
common=(); [ -n "$LOCK" ] && common+=(--lock "$LOCK")
if [ -n "${FULL:-}" ]; then
  SEEDS=${SEEDS:-0,1,2,3,4}
  length=(--epochs "${EPOCHS:-1}")
  SETTINGS=${SETTINGS:-"student-L6 student-L3 english-teacher"}
  common+=(--runs runs/headroom-full --results docs/results/headroom-full --untrained-languages all)
else
  SEEDS=${SEEDS:-0,1,2}
  length=(--steps "${STEPS:-300}")
  SETTINGS=${SETTINGS:-"student-L6 student-L3"}
fi

for setting in $SETTINGS; do
  # choose lr, token cost and sentence weight on the validation split (300-step runs, seed 0); student-L6
  # searches widely, the others reuse its lr and weight (the squared-Euclidean cost collapsed there)
  if [ "$setting" = student-L6 ]; then
    "$PYTHON" experiments/headroom.py validate --setting student-L6 "${common[@]}"
    # the diagnosis probes (docs/training.md): the untrained student, sharper plans, trained embeddings
    "$PYTHON" experiments/headroom.py probe --setting student-L6 --objectives zero-shot --seeds 0 "${common[@]}"
    "$PYTHON" experiments/headroom.py probe --setting student-L6 --objectives ot --seeds 0 \
      --loss-option reg=0.1 "${common[@]}"
    "$PYTHON" experiments/headroom.py probe --setting student-L6 --objectives mse,ot+sentence --seeds 0 \
      --train-embeddings "${common[@]}"
  else
    narrow=(--lrs 5e-4 --sentence-weights 1000)  # this machine: student-L6's choice
    [ -n "${FULL:-}" ] && narrow=(--lrs 2e-4,5e-4,1e-3 --sentence-weights 100,1000)
    "$PYTHON" experiments/headroom.py validate --setting "$setting" --costs cosine "${narrow[@]}" "${common[@]}"
  fi
  "$PYTHON" experiments/headroom.py train --setting "$setting" --objectives mse,ot+sentence,ot \
    --seeds "$SEEDS" "${length[@]}" "${common[@]}"
done
"$PYTHON" experiments/headroom.py baselines --baseline-settings "$(echo $SETTINGS | tr ' ' ,)" "${common[@]}"
# the rest of the trained depth ladder (docs/scaling.md): student-L6's recipe, seed 0 here, all seeds in FULL
LADDER=${LADDER:-"2 4 9"}
ladder_seeds=0; [ -n "${FULL:-}" ] && ladder_seeds=$SEEDS
for n in $LADDER; do
  "$PYTHON" experiments/headroom.py train --setting "student-L$n" --objectives mse,ot+sentence --seeds "$ladder_seeds" \
    --lr 5e-4 --sentence-weight 1000 "${length[@]}" "${common[@]}"
done
[ -n "$LADDER" ] && "$PYTHON" experiments/headroom.py baselines \
  --baseline-settings "$(for n in $LADDER; do printf 'student-L%s,' "$n"; done | sed 's/,$//')" "${common[@]}"
# OPTICAL's own setup (student and teacher the same 12-layer model) on the validation split
"$PYTHON" experiments/headroom.py probe --setting self-L12 --lr 5e-5 --objectives zero-shot,mse,ot \
  --seeds "$SEEDS" "${common[@]}"

# summary.json, tables and the plot; on this machine's plan also where the student's token cloud went
if [ -n "${FULL:-}" ]; then
  "$PYTHON" experiments/headroom_report.py --runs runs/headroom-full --results docs/results/headroom-full
  "$PYTHON" experiments/ladder_report.py --results docs/results/headroom-full
else
  V=runs/headroom/validate/student-L6/lr0.0005-b16-steps300
  "$PYTHON" experiments/token_geometry.py --setting student-L6 zero-shot mse=$V/mse-seed0/run/final \
    ot-plain=$V/ot-plain-seed0/run/final ot=$V/ot-seed0/run/final \
    ot+sentence-w100=$V/ot+sentence-w100-seed0/run/final ot+sentence-w1000=$V/ot+sentence-w1000-seed0/run/final
  "$PYTHON" experiments/headroom_report.py
  "$PYTHON" experiments/ladder_report.py
fi
