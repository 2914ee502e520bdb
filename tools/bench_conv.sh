#!/usr/bin/env bash
# Convolution and GEMM kernels, ONNX Runtime (MLAS) against PyTorch (oneDNN, OpenBLAS), on this CPU
# with the same thread count (BENCH_THREADS, default 2): see tools/bench_conv.py. A benchmark, not a
# test; about two minutes. Needs /usr/bin/python3 with torch and onnx, and the .NET SDK (NuGet access
# for the first `dotnet run --file`). A second table times the two formulation choices of the Conv
# gradient rule on ONNX Runtime alone (tools/bench_conv_forms.py).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${BENCH_THREADS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tools/bench_conv.py --models "$work/models" --threads "$THREADS" > "$work/torch.json"
dotnet run --file tools/bench_conv.cs -c Release -- "$THREADS" "$work"/models/*.onnx > "$work/ort.json"
/usr/bin/python3 - "$work/torch.json" "$work/ort.json" "$THREADS" <<'PY'
import json, sys
torch_, ort = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print(f"batch 256, {sys.argv[3]} threads; best of 15 runs; GFLOP/s = 2*MACs / time")
print(f"{'case':28s} {'ORT ms':>8s} {'GFLOP/s':>8s} {'torch ms':>9s} {'GFLOP/s':>8s} {'ORT/torch':>9s} {'torch bwd ms':>12s}")
for f, t in torch_.items():
    o = ort[f]
    bwd = f"{t['torch_backward_ms']:12.1f}" if t["torch_backward_ms"] is not None else f"{'':12s}"
    print(f"{t['name']:28s} {o:8.1f} {t['flops'] / o / 1e6:8.0f} {t['torch_ms']:9.1f} {t['flops'] / t['torch_ms'] / 1e6:8.0f} "
          f"{o / t['torch_ms']:9.2f} {bwd}")
PY
/usr/bin/python3 tools/bench_conv_forms.py --models "$work/forms" > "$work/pairs.json"
dotnet run --file tools/bench_conv.cs -c Release -- "$THREADS" "$work"/forms/*.onnx > "$work/forms.json"
/usr/bin/python3 - "$work/pairs.json" "$work/forms.json" <<'PY'
import json, sys
pairs, ms = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print()
print("ONNX Runtime alone: the Conv gradient rule's formulation choices (best of 15 runs, ms)")
print(f"{'case: first, second':52s} {'first':>8s} {'second':>8s} {'second/first':>12s}")
for name, (first, second) in pairs.items():
    print(f"{name:52s} {ms[first]:8.2f} {ms[second]:8.2f} {ms[second] / ms[first]:12.2f}")
PY
