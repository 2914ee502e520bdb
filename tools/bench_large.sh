#!/usr/bin/env bash
# Large-model benchmark (not part of the test suite): generates an MLP classifier whose weights
# (above 2 GB, more than one protobuf can hold) live in an ONNX external data file, runs
# `onnx-unlearn forget` on it with small settings under /usr/bin/time -v, reports peak RSS and wall
# time, and checks that the output keeps external data and loads in ONNX Runtime. Removes its
# large files at the end.
#
#   make build && tools/bench_large.sh
#
# Sizes: LARGE_IN (input features, default 8192) × LARGE_HIDDEN (default 66000) float32 weights in
# the first Gemm (2.16 GB), 10 classes. LARGE_OPTIMIZER (default sgd: no optimizer state; adam
# adds two moments per weight), LARGE_DIR (default a folder under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=${CLI:-bin/onnx-unlearn}
IN=${LARGE_IN:-8192}
HIDDEN=${LARGE_HIDDEN:-66000}
OPTIMIZER=${LARGE_OPTIMIZER:-sgd}
DIR=${LARGE_DIR:-$(mktemp -d /tmp/onnx-unlearn-large.XXXXXX)}
PY=/usr/bin/python3
trap 'rm -rf "$DIR"' EXIT
[ -x "$CLI" ] || { echo "error: $CLI not found; run make build first" >&2; exit 2; }
mkdir -p "$DIR/out"

echo "generating $DIR/large.onnx: Gemm $IN → $HIDDEN → Relu → Gemm → 10 classes, weights external"
"$PY" - "$DIR" "$IN" "$HIDDEN" <<'PYEOF'
import os, sys
import numpy as np
import onnx
from onnx import helper, TensorProto

folder, n_in, hidden = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
classes = 10
rng = np.random.default_rng(0)
data_path = os.path.join(folder, "large.onnx.data")
tensors = []
with open(data_path, "wb") as f:
    def write(name, shape, scale, rows_per_chunk=1024):
        # Written in chunks so the generator never holds the 2 GB tensor.
        offset = f.tell()
        rows = shape[0]
        for start in range(0, rows, rows_per_chunk):
            chunk = rng.standard_normal((min(rows_per_chunk, rows - start),) + tuple(shape[1:]), dtype=np.float32) * np.float32(scale)
            f.write(chunk.tobytes())
        length = f.tell() - offset
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape, data_location=TensorProto.EXTERNAL)
        for k, v in (("location", "large.onnx.data"), ("offset", str(offset)), ("length", str(length))):
            e = t.external_data.add(); e.key = k; e.value = v
        tensors.append(t)
        pad = (-f.tell()) % 4096
        f.write(b"\0" * pad)
    write("fc1.weight", [hidden, n_in], 1 / np.sqrt(n_in))
    write("fc1.bias", [hidden], 0.01)
    write("fc2.weight", [classes, hidden], 1 / np.sqrt(hidden))
    write("fc2.bias", [classes], 0.01)
nodes = [
    helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h"], name="fc1", transB=1),
    helper.make_node("Relu", ["h"], ["r"], name="relu"),
    helper.make_node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
]
graph = helper.make_graph(nodes, "large_mlp",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n_in])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])], initializer=tensors)
model = helper.make_model(graph, producer_name="bench_large", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
with open(os.path.join(folder, "large.onnx"), "wb") as f:
    f.write(model.SerializeToString())
x = rng.standard_normal((120, n_in), dtype=np.float32)
y = np.arange(120, dtype=np.int64) % classes
np.savez(os.path.join(folder, "data.npz"), x=x, y=y)
PYEOF
ls -l "$DIR"
BYTES=$(stat -c %s "$DIR/large.onnx.data")

echo "forget class 0 (optimizer $OPTIMIZER, tiny settings) under /usr/bin/time -v"
/usr/bin/time -v "$CLI" forget --model "$DIR/large.onnx" --data "$DIR/data.npz" --classes 0 --out "$DIR/out/forgot.onnx" \
    --noise-steps 2 --noise-batch 8 --min-noise-per-class 8 --noise-copies 1 --retain-per-class 4 --batch 16 --max-rounds 1 \
    --optimizer "$OPTIMIZER" --threads 2 --quiet 2> "$DIR/time.txt" || { cat "$DIR/time.txt" >&2; exit 1; }
RSS_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/time.txt")
WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$DIR/time.txt")
ls -l "$DIR/out"

echo "checking the output: external data kept, loads, same interface"
"$PY" - "$DIR" <<'PYEOF'
import os, sys
import numpy as np
import onnx
folder = sys.argv[1]
out = os.path.join(folder, "out", "forgot.onnx")
m = onnx.load(out, load_external_data=False)
external = {t.name: {e.key: e.value for e in t.external_data} for t in m.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL}
assert set(external) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}, external
assert all(e["location"] == "forgot.onnx.data" for e in external.values()), external
assert os.path.getsize(out) < 1 << 20, "weights are inline"
src = onnx.load(os.path.join(folder, "large.onnx"), load_external_data=False)
assert [n.SerializeToString() for n in m.graph.node] == [n.SerializeToString() for n in src.graph.node]
# The trained fc2 weights differ from the source's (read straight from the data files).
def read(path, info, count):
    with open(path, "rb") as f:
        f.seek(int(info["offset"])); return np.frombuffer(f.read(count * 4), dtype=np.float32)
src_ext = {t.name: {e.key: e.value for e in t.external_data} for t in src.graph.initializer}
a = read(os.path.join(folder, "large.onnx.data"), src_ext["fc2.weight"], 1000)
b = read(os.path.join(folder, "out", "forgot.onnx.data"), external["fc2.weight"], 1000)
assert not np.array_equal(a, b), "fc2.weight unchanged"
print("output ok: 4 tensors external in forgot.onnx.data at the source's offsets; nodes unchanged; weights trained")
PYEOF
"$CLI" inspect "$DIR/out/forgot.onnx" | grep -E "^(outputs|inputs|external data|trainable)"
# A fresh ONNX Runtime session loads the output and runs it (eval).
"$CLI" eval --model "$DIR/out/forgot.onnx" --data "$DIR/data.npz" --threads 2 --quiet | head -1

printf '\nbench_large: model %s bytes of external weights; forget peak RSS %.2f GiB; wall %s\n' \
    "$BYTES" "$(echo "$RSS_KB / 1048576" | bc -l)" "$WALL"
