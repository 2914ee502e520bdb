#!/usr/bin/env bash
# On the device machine, after tools/device-unpack.sh: ONNX Runtime profiles of a training run and of
# an UNSIR run of models/fmnist_cnn_bn.onnx on the GPU, summarised by tools/profile_summary.py into
# $OUT/profile.txt (time per op type and provider, node executions per step, ORT's own share).
#
#   bash tools/device-unpack.sh && bash tools/device-profile.sh
#
# Environment: CLI (default /tmp/onnx-unlearn-gpu/gpu/onnx-unlearn), DEVICE (cuda), PYTHON (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device-profile-out}
CLI=${CLI:-/tmp/onnx-unlearn-gpu/gpu/onnx-unlearn}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/device-profile.XXXXXX)
eval "$(PROVIDER="$(dirname "$CLI")/libonnxruntime_providers_cuda.so" bash tools/device-libs.sh 2>/dev/null)"
$PY tools/device_compare.py subset models/fmnist_train.npz "$W/train.npz" 10240 > /dev/null
{
  echo "== train fmnist_cnn_bn, batch 256, 10,240 samples, 1 epoch, $DEVICE"
  mkdir -p "$W/train"
  ONNX_UNLEARN_PROFILE=$W/train/p "$CLI" train --model models/fmnist_cnn_bn.onnx --data "$W/train.npz" --preprocess fmnist \
    --epochs 1 --batch 256 --out "$W/t.onnx" --quiet --device "$DEVICE" --verbose
  $PY tools/profile_summary.py "$W"/train/p_*.json --top 12
  echo; echo "== forget class 0 of fmnist_cnn_bn (defaults, --max-rounds 1), $DEVICE"
  mkdir -p "$W/forget"
  ONNX_UNLEARN_PROFILE=$W/forget/p "$CLI" forget --model models/fmnist_cnn_bn.onnx --data models/fmnist_train.npz \
    --preprocess fmnist --classes 0 --max-rounds 1 --out "$W/f.onnx" --quiet --json --device "$DEVICE" --verbose > "$W/forget.json"
  $PY -c 'import json, sys; print("timings_s", json.load(open(sys.argv[1]))["timings_s"])' "$W/forget.json"
  $PY tools/profile_summary.py "$W"/forget/p_*.json --top 8
} > "$OUT/profile.txt" 2>&1
tar -C "$W" -czf "$OUT/profiles.tar.gz" train forget 2>/dev/null
head -c 20000 "$OUT/profile.txt"
rm -rf "$W"
