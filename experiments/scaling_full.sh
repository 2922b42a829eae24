#!/usr/bin/env bash
# The full-size scaling study (issue 18, docs/scaling.md "The full-size plan"), written out for a machine
# with more cores or a GPU: multilingual-e5-small cut to 2, 3, 4, 6, 9 and 12 layers, every one zero-shot,
# OT-distilled and MSE-distilled from the frozen full model; all 15 languages on the whole of FLORES-200
# (1,040 sentences per language here: dev + devtest) and NTREX-128 where it has the language; sentence and
# document level, both directions; recall@1/5/10 with 95% bootstrap intervals.
#
#   bash experiments/scaling_full.sh --budget          # the plan and its time on this machine; runs nothing
#   bash experiments/scaling_full.sh --max-minutes 600 # run only if the estimate fits in 10 hours
#   bash experiments/scaling_full.sh                   # run; rerun after an interruption to resume
#   DEVICE=cuda bash experiments/scaling_full.sh       # on a GPU
#   accelerate launch ... -m optical_st.cli scale ...  # several GPUs: see docs/scaling.md
#
# Every cell is a file under $OUT/<study>/cells and every distilled student is kept under
# $OUT/<study>/checkpoints, so an interrupted run resumes where it stopped. The MSE study writes only
# distilled cells (its zero-shot cells would repeat the OT study's) and, like every distilled cell of
# `optical-st scale`, labels them "ot-distilled" (the objective is in each cell's recipe and in the title).
# Arguments after the script name go to both `optical-st scale` calls (e.g. --budget, --max-minutes M).
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a OPTICAL_ST <<< "${OPTICAL_ST:-optical-st}"  # e.g. OPTICAL_ST=".venv/bin/python -m optical_st.cli"
SHARED=${SHARED:-../shared/data}
MODEL=${MODEL:-$("${OPTICAL_ST[@]}" fetch-model)}  # the multilingual-e5-small folder (Hub, cache or offline build)
LAYERS=${LAYERS:-2,3,4,6,9,12}
OUT=${OUT:-runs/scaling-full}
DEVICE=${DEVICE:-}
# The recipe: OT as optical-st train runs it; replace LOSS/LR/EPOCHS with the headroom experiment's best.
LOSS=${LOSS:-ot}
LR=${LR:-5e-5}
EPOCHS=${EPOCHS:-1}
BATCH=${BATCH:-16}

common=(
  --models "ladder:$MODEL:$LAYERS"
  --benchmark "$SHARED/flores200" --benchmark "$SHARED/ntrex128" --languages all
  --directions 'xx->eng,eng->xx' --levels sentence,document --k 1,5,10 --report-k 1
  --query-prompt 'query: ' --document-prompt 'passage: '
  --distill-bitext "$SHARED/floresv1_ne_si" --distill-epochs "$EPOCHS" --distill-batch-size "$BATCH"
  --distill-lr "$LR" --distill-max-length 128 --distill-freeze-embeddings
)
[ -n "$DEVICE" ] && common+=(--device "$DEVICE")

# exit code 3: the report was written but a model was skipped (its reason is in the report); go on
run() { "${OPTICAL_ST[@]}" scale "${common[@]}" "$@" || [ $? -eq 3 ]; }

run --loss "$LOSS" --output-dir "$OUT/ot" \
  --title "Scaling study: multilingual-e5-small 2-12 layers, zero-shot vs $LOSS-distilled" "$@"
run --loss mse --conditions ot-distilled --output-dir "$OUT/mse" \
  --title "Scaling study: multilingual-e5-small 2-12 layers, MSE-distilled (cells labelled ot-distilled)" "$@"
