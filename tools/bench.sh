#!/usr/bin/env bash
# onnx-unlearn against PyTorch, side by side on this machine with the same thread count:
#   1. training-step throughput and peak RSS: fmnist_cnn_bn at batch 256 and 64, fmnist_mlp at 256
#      (ours: `train` with 1 and 1+E epochs, the difference timed, so graph building is left out;
#      PyTorch: tools/bench_torch_train.py, warm-up steps left out)
#   2. UNSIR: `forget` vs tools/unsir_torch.py on fmnist_cnn_bn and fmnist_cnn_folded
#   3. retraining fmnist_cnn_bn from scratch without class 0, against UNSIR of class 0: the sample
#      models' own recipe (models/PROVENANCE.md: the full Fashion-MNIST train split of the Debian
#      package dataset-fashion-mnist, 3 epochs, batch 128, Adam lr 0.002); without that package, on
#      models/fmnist_train.npz
# Prints tables (tools/bench_report.py) and writes bench-results.json at the repository root.
#
# Environment, default in brackets (BENCH_QUICK=1: a smoke run with tiny sizes by default):
#   BENCH_THREADS [2]             --threads of ours, torch.set_num_threads of PyTorch
#   BENCH_TRAIN_SAMPLES [2048]    1. trains on the first N samples of models/fmnist_train.npz
#   BENCH_TRAIN_EPOCHS [4]        1. timed epochs over them (the MLP: 10 times as many)
#   BENCH_CLASSES ["0 0,1,2"]     2. forget class sets
#   BENCH_NOISE_STEPS [40], BENCH_NOISE_COPIES [20], BENCH_RETAIN_PER_CLASS [1000]   2. UNSIR sizes
#   BENCH_RETRAIN_EPOCHS [3]      3. epochs (quick: 1 on the subset of 1.)
# Needs bin/onnx-unlearn (make build; make bench builds first) and /usr/bin/python3 with torch,
# numpy and onnx. /usr/bin/time (package time) gives the peak RSS; without it RSS is left out.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${BENCH_QUICK:-0} == 1 ]]; then
  d_train=512 d_epochs=1 d_classes=0 d_steps=5 d_copies=2 d_retain=100 d_retrain=1
else
  d_train=2048 d_epochs=4 d_classes="0 0,1,2" d_steps=40 d_copies=20 d_retain=1000 d_retrain=3
fi
THREADS=${BENCH_THREADS:-2}
TRAIN_SAMPLES=${BENCH_TRAIN_SAMPLES:-$d_train}
TRAIN_EPOCHS=${BENCH_TRAIN_EPOCHS:-$d_epochs}
CLASSES=${BENCH_CLASSES:-$d_classes}
NOISE_STEPS=${BENCH_NOISE_STEPS:-$d_steps}
NOISE_COPIES=${BENCH_NOISE_COPIES:-$d_copies}
RETAIN=${BENCH_RETAIN_PER_CLASS:-$d_retain}
RETRAIN_EPOCHS=${BENCH_RETRAIN_EPOCHS:-$d_retrain}
PY=/usr/bin/python3
TRAIN=models/fmnist_train.npz TEST=models/fmnist_test.npz
OURS=(--threads "$THREADS" --preprocess fmnist --json --quiet)

[[ -x bin/onnx-unlearn ]] || { echo "bench: bin/onnx-unlearn missing; run make build" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '{"threads": %s, "quick": %s, "train_samples": %s, "train_epochs": %s, "noise_steps": %s, "noise_copies": %s, "retain_per_class": %s, "retrain_epochs": %s, "loadavg_at_start": "%s"}\n' \
  "$THREADS" "${BENCH_QUICK:-0}" "$TRAIN_SAMPLES" "$TRAIN_EPOCHS" "$NOISE_STEPS" "$NOISE_COPIES" "$RETAIN" \
  "$RETRAIN_EPOCHS" "$(cut -d' ' -f1-3 /proc/loadavg)" > "$work/config.json"

# run NAME CMD...: CMD's stdout to $work/NAME.json; its peak RSS to $work/NAME.time (/usr/bin/time -v).
run() {
  local name=$1; shift
  echo "bench: $name" >&2
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.json"
  else
    "$@" > "$work/$name.json"
  fi
}

# 1. Training steps
subset=$work/train_subset.npz
"$PY" -c 'import sys, numpy as np; d = np.load(sys.argv[1]); n = int(sys.argv[3]); np.savez(sys.argv[2], x=d["x"][:n], y=d["y"][:n])' \
  "$TRAIN" "$subset" "$TRAIN_SAMPLES"
# MODEL:BATCH:F times F x the timed epochs: the MLP's epoch takes a tenth of a second, too short to time alone.
for spec in fmnist_cnn_bn:256:1 fmnist_cnn_bn:64:1 fmnist_mlp:256:10; do
  IFS=: read -r model batch factor <<< "$spec"
  tag=train_${model}_b$batch timed=$((factor * TRAIN_EPOCHS))
  for epochs in 1 $((1 + timed)); do
    run "${tag}_ours_e$epochs" bin/onnx-unlearn train --model "models/$model.onnx" --data "$subset" --out "$work/$tag.onnx" \
      --epochs "$epochs" --batch "$batch" "${OURS[@]}"
  done
  run "${tag}_torch" "$PY" tools/bench_torch_train.py --model "models/$model.onnx" --data "$subset" --batch "$batch" \
    --steps $((timed * ((TRAIN_SAMPLES + batch - 1) / batch))) --threads "$THREADS"
  echo "train $model $batch $tag $timed" >> "$work/manifest"
done

# 2. UNSIR with our defaults for the model; PyTorch gets the noise samples per class, the learning
#    rates and the number of impair + repair rounds that ours used.
for model in fmnist_cnn_bn fmnist_cnn_folded; do
  for classes in $CLASSES; do
    tag=unsir_${model}_${classes//,/-}
    run "${tag}_ours" bin/onnx-unlearn forget --model "models/$model.onnx" --data "$TRAIN" --test "$TEST" --classes "$classes" \
      --out "$work/$tag.onnx" --seed 0 --noise-steps "$NOISE_STEPS" --noise-copies "$NOISE_COPIES" --retain-per-class "$RETAIN" \
      "${OURS[@]}"
    read -r per_class impair_lr repair_lr growth rounds < <("$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); h = r["hyperparameters"]
print(h["noise_per_class"], h["impair_lr"], h["repair_lr"], h["impair_lr_growth"], r["rounds"])' "$work/${tag}_ours.json")
    run "${tag}_torch" "$PY" tools/unsir_torch.py --model "models/$model.onnx" --data "$TRAIN" --test "$TEST" --classes "$classes" \
      --threads "$THREADS" --seed 0 --noise-batch "$per_class" --noise-steps "$NOISE_STEPS" --noise-repeats "$NOISE_COPIES" \
      --retain-per-class "$RETAIN" --impair-lr "$impair_lr" --repair-lr "$repair_lr" \
      --rounds "$rounds" --impair-lr-growth "$growth" --json
    echo "unsir $model $classes $tag" >> "$work/manifest"
  done
done

# 3. Retraining from scratch without class 0, with the recipe the sample model was trained with
retrain_data=(--data "$TRAIN")
fmnist=/usr/share/datasets/fashion-mnist
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
  retrain_data=(--data "$subset")
elif [[ -f $fmnist/train-images-idx3-ubyte.gz ]]; then
  retrain_data=(--data "$fmnist/train-images-idx3-ubyte.gz" --labels "$fmnist/train-labels-idx1-ubyte.gz")
fi
run retrain bin/onnx-unlearn train --model models/fmnist_cnn_bn.onnx --reinit --exclude-classes 0 --epochs "$RETRAIN_EPOCHS" \
  --batch 128 --lr 0.002 "${retrain_data[@]}" --test "$TEST" --out "$work/retrain.onnx" "${OURS[@]}"
echo "retrain fmnist_cnn_bn 0 retrain" >> "$work/manifest"

"$PY" tools/bench_report.py "$work" bench-results.json
