#!/usr/bin/env bash
# The convolution floor of a training step on stock ONNX Runtime against PyTorch's whole step, in
# one run on this machine (tools/bench_floor.py says what is timed). A benchmark, not a test; under
# a minute. Needs /usr/bin/python3 with torch and onnx, and the .NET SDK.
#   BENCH_THREADS (2), BENCH_BATCH (256)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${BENCH_THREADS:-2}
BATCH=${BENCH_BATCH:-256}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tools/bench_floor.py generate --models "$work/models" --batch "$BATCH" > "$work/plan.json"
dotnet run --file tools/bench_conv.cs -c Release -- "$THREADS" "$work"/models/*.onnx > "$work/ort.json"
/usr/bin/python3 tools/bench_torch_train.py --model models/fmnist_cnn_bn.onnx --data models/fmnist_train.npz \
    --batch "$BATCH" --steps 20 --threads "$THREADS" > "$work/torch.json"
/usr/bin/python3 tools/bench_floor.py report --plan "$work/plan.json" --timings "$work/ort.json" --torch "$work/torch.json" --threads "$THREADS"
