#!/usr/bin/env bash
# Data pipeline benchmark (not a test): images/s and peak memory of the image-folder pipeline, and
# whether the training step waits on data, for the sample CNN's input ([1,28,28] NCHW, fmnist).
#
#   tools/bench_data.sh [FOLDER]          # FOLDER default /tmp/fmnist_folder (made if missing)
#
# Makes a 20,000-image folder (64x64 RGB PNG from Fashion-MNIST, tools/make_image_folder.py) unless
# FOLDER exists, builds tools/DataBench (Release) and runs it on:
#   npz       models/fmnist_train.npz: 3 passes, then a 300 ms spin step per batch
#   folder    the folder: 3 passes, then a 300 ms spin step per batch (30 batches)
#   folder5k  the first 5,000 images of the same shuffled order: 3 passes (peak memory vs data size)
#   train     the folder feeding real Trainer.Step calls of models/fmnist_cnn_bn.onnx (10 batches)
# and prints a table. Env: STEP_MS (300), TRAIN_STEPS (10), DOTNET (dotnet). About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
FOLDER=${1:-/tmp/fmnist_folder}
STEP_MS=${STEP_MS:-300}
TRAIN_STEPS=${TRAIN_STEPS:-10}
DOTNET=${DOTNET:-dotnet}

if [ ! -d "$FOLDER" ]; then
    /usr/bin/python3 tools/make_image_folder.py --out "$FOLDER" --count 20000 --size 64 --rgb
fi
"$DOTNET" build tools/DataBench -c Release -nologo -v quiet >/dev/null
BENCH=("$DOTNET" tools/DataBench/bin/Release/net10.0/DataBench.dll)

LOG=$(mktemp)
RAW=$(mktemp)
trap 'rm -f "$LOG" "$RAW"' EXIT
run() {
    local name=$1; shift
    echo "== $name: DataBench $*"
    "${BENCH[@]}" "$@" | tee "$RAW"
    sed -n "s/^RESULT /$name /p" "$RAW" >>"$LOG"
}
run npz      --data models/fmnist_train.npz --passes 3 --step-ms "$STEP_MS" --step-mode spin
run folder   --data "$FOLDER" --passes 3 --step-ms "$STEP_MS" --step-mode spin --steps 30
run folder5k --data "$FOLDER" --passes 3 --limit 5000
run train    --data "$FOLDER" --passes 0 --train models/fmnist_cnn_bn.onnx --steps "$TRAIN_STEPS"

echo
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
function v(k,  i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "-" }
BEGIN { printf "%-9s %7s %9s %9s %12s %12s %13s %-26s %8s %8s %9s\n", "run", "images", "cold i/s", "warm i/s", "peak WS MiB", "decoded MiB", "live MiB 1→n", "step", "step ms", "wait %", "max wait" }
{ live = v("live_first_mib") == "-" ? "-" : v("live_first_mib") "→" v("live_last_mib")
  ws = v("data_peak_ws_mib") == "-" ? v("peak_ws_mib") " (+ORT)" : v("data_peak_ws_mib")
  printf "%-9s %7s %9s %9s %12s %12s %13s %-26s %8s %8s %9s\n", $1, v("samples"), v("cold_img_s"), v("warm_img_s"), ws, v("decoded_mib"), live,
      v("step"), v("step_ms_mean"), v("wait_pct"), v("max_wait_ms") == "-" ? "-" : v("max_wait_ms") " ms" }' "$LOG"
cat <<'NOTE'

cold/warm i/s: images/s of the first / best later pass with a consumer that does nothing (decode-bound).
peak WS: the process's peak working set after the data passes (train: including the ONNX Runtime session).
live MiB 1→n: managed heap after a full GC at the end of the first and last pass (should not grow).
wait %: time the step loop spent waiting for its next batch, after the first batch (pipeline fill), / total.
NOTE
