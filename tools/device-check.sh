#!/usr/bin/env bash
# The GPU check (issue 9), run on the device machine once tools/device-unpack.sh has unpacked the
# GPU build (tools/device-pack.sh). Every part reports PASS, FAIL or SKIP with its reason and never
# stops the others; the whole check keeps within CHECK_BUDGET_S (default 480 s).
#
#   bash tools/device-unpack.sh && bash tools/device-check.sh
#
#   env     nvidia-smi; the CUDA 13 / cuBLAS / cuRAND / cuDNN 9 libraries (tools/device-libs.sh),
#           added to LD_LIBRARY_PATH of the CLI's runs only
#   eval    inference on the device: accuracy on models/fmnist_test.npz equals the CPU's
#   grad    (a) gradient parity, device against CPU, same batch (grad --count 64), of every sample
#           model with --bn train and --bn frozen, and of the input gradient (--wrt input):
#           max|dev - cpu| / max|cpu| per tensor <= GRAD_TOL (default 1e-2: TF32 convolutions)
#   bn      (b) train --bn train on 512 samples: every BatchNorm running mean/var moved on the
#           device, and agrees with the CPU run to BN_TOL (default 5e-2) of the CPU's update
#   speed   training-step throughput of fmnist_cnn_bn at batch 256 on the device: ours (`train` with
#           1 and 4 epochs on 10,240 samples, the difference timed, so start-up is left out) against
#           PyTorch on the same device (tools/bench_torch_train.py), images/s and the ratio
#   forget  (c) forget class 0 of models/fmnist_cnn_bn.onnx on the device, timed per phase
#           (default settings, --max-rounds 1: the work of the PyTorch run)
#   torch   (d) the same UNSIR run in PyTorch on the same device (tools/unsir_torch_cuda.py) with
#           the learning rates our run reports; the ratio of the phase times, ours / PyTorch
#   resnet  (c, d) the same two on a CIFAR-size torchvision ResNet-18: RESNET_MODEL, RESNET_DATA and
#           RESNET_TEST (preprocess cifar10) if set, else one made on the spot by
#           tools/device_resnet18.py (random weights, synthetic data: times only). RESNET=0 skips it.
#
# Writes into $OUT (the device tool's folder; default /tmp/device-check-out): check.log (everything
# printed), summary.txt (the verdicts and the figures), results.json, details.tar.gz (each run's
# log, the forget reports, the comparison files).
#
# Environment: CHECK_DEVICE (cuda, or cpu to test the logic on a machine without a GPU), CLI (the
# onnx-unlearn to run; default /tmp/onnx-unlearn-gpu/gpu/onnx-unlearn, then bin/gpu/onnx-unlearn),
# PYTHON (python3), SMALL=1 (tiny sizes, for the CPU test), CHECK_BUDGET_S, GRAD_TOL, BN_TOL,
# THREADS (the CPU reference runs' --threads; 0 = all cores), RESNET, RESNET_STEM (cifar|imagenet).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

OUT=${OUT:-/tmp/device-check-out}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/device-check.XXXXXX)
LOGS=$W/logs
mkdir -p "$LOGS"
exec > >(tee -a "$OUT/check.log") 2>&1
TEE_PID=$!

DEV=${CHECK_DEVICE:-cuda}
PY=${PYTHON:-python3}
SMALL=${SMALL:-0}
BUDGET=${CHECK_BUDGET_S:-480}
GRAD_TOL=${GRAD_TOL:-1e-2}
BN_TOL=${BN_TOL:-5e-2}
THREADS=${THREADS:-0}
RESNET=${RESNET:-1}
T0=$(date +%s)
TORCH_DEV=$DEV
[ "$DEV" = cpu ] || TORCH_DEV=cuda${DEV#cuda}

if [ -z "${CLI:-}" ]; then
  for c in /tmp/onnx-unlearn-gpu/gpu/onnx-unlearn "$ROOT/bin/gpu/onnx-unlearn"; do
    [ -x "$c" ] && { CLI=$c; break; }
  done
fi
CLI=${CLI:-/tmp/onnx-unlearn-gpu/gpu/onnx-unlearn}
CLI_DIR=$(dirname "$(readlink -f "$CLI" 2>/dev/null || echo "$CLI")")
[ -f "$CLI_DIR/publish/onnx-unlearn" ] && CLI_DIR=$CLI_DIR/publish   # the CPU build's wrapper script

RESULTS=$W/results.tsv
: > "$RESULTS"
elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
# result PART NAME STATUS "detail"
result() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"
  printf '%-6s %-7s %-28s %s\n' "$3" "$1" "$2" "$4"
}
# The timeout of a step: its own limit, cut to what the budget leaves (less a reserve for the end).
tlimit() { local want=$1 l; l=$(( $(left) - 10 )); [ "$l" -lt "$want" ] && want=$l; echo "$want"; }
# Enough budget left for a part that needs about $1 s?
afford() { [ "$(left)" -ge "$1" ]; }
CLI_LD=${LD_LIBRARY_PATH:-}
# cli LOGNAME TIMEOUT ARGS...: the CLI with the CUDA libraries on its path; stdout+stderr to the log.
cli() {
  local log=$LOGS/$1.log t=$2; shift 2
  [ "$t" -gt 0 ] || { echo "no time left in the budget" > "$log"; return 124; }
  echo "\$ onnx-unlearn $*" > "$log"
  LD_LIBRARY_PATH=$CLI_LD timeout -k 5 "$t" "$CLI" "$@" >> "$log" 2>&1
  local rc=$?
  [ $rc = 124 ] && echo "(timed out after $t s)" >> "$log"
  return $rc
}
# Why a run failed, in one line: its last error line, or its last line.
why() {
  local log=$LOGS/$1.log l
  l=$(grep -iE 'error|exception|fail|timed out' "$log" 2>/dev/null | grep -v '^\$ ' | tail -1)
  [ -n "$l" ] || l=$(tail -1 "$log" 2>/dev/null)
  echo "${l:0:300}"
}
small() { [ "$SMALL" = 1 ]; }

echo "== device check: device $DEV, CLI $CLI, budget ${BUDGET} s, $(date -u +%Y-%m-%dT%H:%M:%SZ), host ${HOSTNAME:-?}"
[ -f .device/MANIFEST ] && head -2 .device/MANIFEST

# ------------------------------------------------------------------------------------------ env
echo; echo "== env"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi 2>&1 | tee "$LOGS/nvidia-smi.log"
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
  result env gpu "$([ -n "$gpu" ] && echo PASS || echo FAIL)" "${gpu:-nvidia-smi found no GPU}"
else
  result env gpu "$([ "$DEV" = cpu ] && echo SKIP || echo FAIL)" "nvidia-smi not found"
fi
libs_export=$(PROVIDER=$CLI_DIR/libonnxruntime_providers_cuda.so bash tools/device-libs.sh 2> "$LOGS/libs.log")
libs_rc=$?
cat "$LOGS/libs.log"
CLI_LD=$(eval "$libs_export"; echo "${LD_LIBRARY_PATH:-}")   # for the CLI only: Python keeps its own
if [ $libs_rc = 0 ]; then result env cuda-libs PASS "$(grep -c '^  lib' "$LOGS/libs.log") libraries located; LD_LIBRARY_PATH set for the CLI"
else result env cuda-libs "$([ "$DEV" = cpu ] && echo SKIP || echo FAIL)" "$(grep -E 'NOT FOUND|not found' "$LOGS/libs.log" | head -3 | tr -s ' ' | tr '\n' ';')"
fi
if [ -x "$CLI" ] && cli version 30 --version; then
  result env cli PASS "$(tail -1 "$LOGS/version.log") at $CLI"
else
  result env cli FAIL "$CLI does not run: $(why version)"
fi
pyv=$($PY -c 'import sys, numpy, onnx, torch; print(f"python {sys.version.split()[0]}, numpy {numpy.__version__}, onnx {onnx.__version__}, torch {torch.__version__}, cuda {torch.cuda.is_available()}")' 2>&1 | tail -1)
result env python "$([[ $pyv == python* ]] && echo PASS || echo FAIL)" "$pyv"

COMMON=(--quiet)
CPU_OPTS=(--device cpu --threads "$THREADS")
DEV_OPTS=(--device "$DEV" --verbose)   # --verbose: a failure's log holds its stack trace
[ "$DEV" = cpu ] && DEV_OPTS=(--device cpu --threads "$THREADS")
FM=(--data models/fmnist_train.npz --preprocess fmnist)
TEST=models/fmnist_test.npz
if small; then
  $PY tools/device_compare.py subset models/fmnist_test.npz "$W/test_small.npz" 500 > /dev/null && TEST=$W/test_small.npz
fi

# ----------------------------------------------------------------------------------------- eval
echo; echo "== eval (inference on $DEV against cpu)"
if afford 20; then
  cli eval_cpu "$(tlimit 60)" eval --model models/fmnist_cnn_bn.onnx --data "$TEST" --preprocess fmnist --json "${COMMON[@]}" "${CPU_OPTS[@]}"; r1=$?
  cli eval_dev "$(tlimit 60)" eval --model models/fmnist_cnn_bn.onnx --data "$TEST" --preprocess fmnist --json "${COMMON[@]}" "${DEV_OPTS[@]}"; r2=$?
  if [ $r1 = 0 ] && [ $r2 = 0 ]; then
    a1=$(grep -o '"accuracy":[0-9.]*' "$LOGS/eval_cpu.log" | cut -d: -f2); a2=$(grep -o '"accuracy":[0-9.]*' "$LOGS/eval_dev.log" | cut -d: -f2)
    if [ -n "$a1" ] && [ "$a1" = "$a2" ]; then result eval fmnist_cnn_bn PASS "accuracy $a2 on $DEV = $a1 on cpu"
    else result eval fmnist_cnn_bn FAIL "accuracy ${a2:-?} on $DEV, ${a1:-?} on cpu"; fi
  else
    result eval fmnist_cnn_bn FAIL "$([ $r2 != 0 ] && why eval_dev || why eval_cpu)"
  fi
else result eval fmnist_cnn_bn SKIP "budget"; fi

# ----------------------------------------------------------------------------------------- grad
echo; echo "== (a) gradient parity, $DEV against cpu (grad --count 64, same batch)"
mkdir -p "$W/grad"
triples=()
configs=()
for m in fmnist_cnn_bn fmnist_cnn_folded fmnist_mlp; do
  for bn in train frozen; do configs+=("$m:$bn:params"); done
done
configs+=("fmnist_cnn_bn:train:input" "fmnist_cnn_bn:frozen:input")
for c in "${configs[@]}"; do
  IFS=: read -r m bn wrt <<< "$c"
  name=$m.bn-$bn.wrt-$wrt
  if ! afford 15; then result grad "$name" SKIP "budget"; continue; fi
  args=(grad --model "models/$m.onnx" "${FM[@]}" --count 64 --bn "$bn" --wrt "$wrt" "${COMMON[@]}")
  cli "grad_${name}_cpu" "$(tlimit 60)" "${args[@]}" --out "$W/grad/$name.cpu.npz" "${CPU_OPTS[@]}"; r1=$?
  cli "grad_${name}_dev" "$(tlimit 60)" "${args[@]}" --out "$W/grad/$name.dev.npz" "${DEV_OPTS[@]}"; r2=$?
  if [ $r1 != 0 ]; then result grad "$name" FAIL "the cpu run failed: $(why "grad_${name}_cpu")"
  elif [ $r2 != 0 ]; then result grad "$name" FAIL "the $DEV run failed: $(why "grad_${name}_dev")"
  else triples+=("$name" "$W/grad/$name.cpu.npz" "$W/grad/$name.dev.npz"); fi
done
if [ ${#triples[@]} -gt 0 ]; then
  $PY tools/device_compare.py grad "$W/grad_parity.json" "$GRAD_TOL" "${triples[@]}" > "$LOGS/grad_compare.log" 2>&1
  while read -r st name rest; do
    case $st in PASS|FAIL) result grad "${name%:}" "$st" "$rest" ;; esac
  done < "$LOGS/grad_compare.log"
  grep -qE '^(PASS|FAIL)' "$LOGS/grad_compare.log" || result grad compare FAIL "$(tail -1 "$LOGS/grad_compare.log")"
fi

# ------------------------------------------------------------------------------------------- bn
echo; echo "== (b) BatchNorm train mode on $DEV: running statistics updated"
if afford 30; then
  n=512; small && n=256
  $PY tools/device_compare.py subset models/fmnist_train.npz "$W/tiny.npz" "$n" > "$LOGS/bn_subset.log" 2>&1
  args=(train --model models/fmnist_cnn_bn.onnx --data "$W/tiny.npz" --preprocess fmnist --epochs 1 --bn train --batch 128 --seed 0 "${COMMON[@]}")
  cli bn_cpu "$(tlimit 90)" "${args[@]}" --out "$W/bn_cpu.onnx" "${CPU_OPTS[@]}"; r1=$?
  cli bn_dev "$(tlimit 90)" "${args[@]}" --out "$W/bn_dev.onnx" "${DEV_OPTS[@]}"; r2=$?
  if [ $r1 != 0 ]; then result bn fmnist_cnn_bn FAIL "the cpu run failed: $(why bn_cpu)"
  elif [ $r2 != 0 ]; then result bn fmnist_cnn_bn FAIL "the $DEV run failed: $(why bn_dev)"
  else
    $PY tools/device_compare.py bn "$W/bn_check.json" "$BN_TOL" models/fmnist_cnn_bn.onnx "$W/bn_cpu.onnx" "$W/bn_dev.onnx" > "$LOGS/bn_compare.log" 2>&1
    l=$(grep -E '^(PASS|FAIL)' "$LOGS/bn_compare.log" | head -1)
    if [ -n "$l" ]; then result bn fmnist_cnn_bn "${l%% *}" "${l#* bn: }"; else result bn fmnist_cnn_bn FAIL "$(tail -1 "$LOGS/bn_compare.log")"; fi
  fi
else result bn fmnist_cnn_bn SKIP "budget"; fi

# ---------------------------------------------------------------------------------------- speed
echo; echo "== training-step throughput on $DEV: fmnist_cnn_bn, batch 256, ours against PyTorch"
if afford 60; then
  n=10240; e2=4; small && { n=1024; e2=2; }
  $PY tools/device_compare.py subset models/fmnist_train.npz "$W/speed.npz" "$n" > "$LOGS/speed_subset.log" 2>&1
  declare -A took=()
  for e in 1 $e2; do
    t=$(date +%s%N)
    cli "speed_ours_e$e" "$(tlimit 90)" train --model models/fmnist_cnn_bn.onnx --data "$W/speed.npz" --preprocess fmnist \
      --epochs "$e" --batch 256 --seed 0 --out "$W/speed_e$e.onnx" "${COMMON[@]}" "${DEV_OPTS[@]}" || took[$e]=failed
    [ "${took[$e]:-}" = failed ] || took[$e]=$(( $(date +%s%N) - t ))
  done
  ours=""
  if [ "${took[1]}" != failed ] && [ "${took[$e2]}" != failed ]; then
    ours=$(awk -v n="$n" -v e="$((e2 - 1))" -v a="${took[1]}" -v b="${took[$e2]}" 'BEGIN { printf "%.0f", n * e / ((b - a) / 1e9) }')
  fi
  timeout -k 5 "$(tlimit 90)" $PY tools/bench_torch_train.py --device "$TORCH_DEV" --model models/fmnist_cnn_bn.onnx --data "$W/speed.npz" \
    --batch 256 --steps $(( (e2 - 1) * n / 256 )) --threads "$( [ "$THREADS" = 0 ] && nproc || echo "$THREADS")" \
    > "$W/speed_torch.json" 2> "$LOGS/speed_torch.log"
  torch=$($PY -c 'import json, sys; print("%.0f" % json.load(open(sys.argv[1]))["images_per_second"])' "$W/speed_torch.json" 2>> "$LOGS/speed_torch.log")
  if [ -z "$ours" ]; then result speed fmnist_cnn_bn FAIL "our train run failed: $(why speed_ours_e1) $(why "speed_ours_e$e2")"
  elif [ -z "$torch" ]; then result speed fmnist_cnn_bn FAIL "ours $ours img/s; the PyTorch run failed: $(why speed_torch)"
  else
    printf '{"ours_images_per_second": %s, "torch_images_per_second": %s, "samples": %s, "epochs_timed": %s}\n' "$ours" "$torch" "$n" "$((e2 - 1))" > "$W/speed.json"
    result speed fmnist_cnn_bn PASS "ours $ours img/s, PyTorch $torch img/s, ratio $(awk -v a="$ours" -v b="$torch" 'BEGIN { printf "%.2f", a / b }') (batch 256, $n samples x $((e2 - 1)) epochs)"
  fi
else result speed fmnist_cnn_bn SKIP "budget"; fi

# --------------------------------------------------------------------------------- forget + torch
# forget_and_torch TAG MODEL DATA TEST PRESET FORGET_LIMIT TORCH_LIMIT, with the size options of
# both runs in OURS_SIZES and TORCH_SIZES (empty: the defaults) and TORCH_SKIP (a reason, or empty).
forget_and_torch() {
  local tag=$1 model=$2 data=$3 test=$4 preset=$5 flimit=$6 tlim=$7
  local r wall0 wall
  if ! afford 30; then result forget "$tag" SKIP "budget"; result torch "$tag" SKIP "budget"; return; fi
  wall0=$(date +%s%N)
  cli "forget_$tag" "$(tlimit "$flimit")" forget --model "$model" --data "$data" --test "$test" --preprocess "$preset" \
    --classes 0 --seed 0 --max-rounds 1 "${OURS_SIZES[@]}" \
    --out "$W/forget_$tag.onnx" --report "$W/forget_${tag}_report.json" "${DEV_OPTS[@]}"; r=$?
  wall=$(( ($(date +%s%N) - wall0) / 1000000 ))
  if [ $r = 0 ] && [ -f "$W/forget_${tag}_report.json" ]; then
    local line
    line=$($PY - "$W/forget_${tag}_report.json" "$wall" "$SMALL" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); t = r["timings_s"]; a = r["metrics"]["after"]; b = r["metrics"]["before"]
ok = sys.argv[3] == "1" or (a["forget_acc"] <= 0.05 and a["retain_acc"] >= b["retain_acc"] - 0.05)
print(("PASS" if ok else "FAIL"), f"noise {t['noise']:.2f} s, impair {t['impair']:.2f} s, repair {t['repair']:.2f} s, total {t['total']:.2f} s"
      f" (process {int(sys.argv[2]) / 1000:.1f} s) on {r['device']}; forget {100*b['forget_acc']:.1f} -> {100*a['forget_acc']:.1f} %,"
      f" retain {100*b['retain_acc']:.1f} -> {100*a['retain_acc']:.1f} %; {r['samples']}")
EOF
)
    result forget "$tag" "${line%% *}" "${line#* }"
  else
    result forget "$tag" FAIL "$(why "forget_$tag")"
  fi

  if [ "${TORCH_SKIP:-}" != "" ]; then result torch "$tag" SKIP "$TORCH_SKIP"; return; fi
  if ! afford 20; then result torch "$tag" SKIP "budget"; return; fi
  local tl rates; tl=$(tlimit "$tlim")
  # The learning rates our run used, else the defaults.
  rates=$($PY -c 'import json, sys; h = json.load(open(sys.argv[1]))["hyperparameters"]; print(h["impair_lr"], h["repair_lr"])' \
    "$W/forget_${tag}_report.json" 2>/dev/null || echo 0.002 0.001)
  echo "\$ $PY tools/unsir_torch_cuda.py --device $TORCH_DEV --model $model ..." > "$LOGS/torch_$tag.log"
  timeout -k 5 "$tl" $PY tools/unsir_torch_cuda.py --device "$TORCH_DEV" --model "$model" --data "$data" --test "$test" \
    --classes 0 --seed 0 --impair-lr "${rates% *}" --repair-lr "${rates#* }" --threads "$( [ "$THREADS" = 0 ] && nproc || echo "$THREADS")" \
    "${TORCH_SIZES[@]}" --json > "$W/torch_${tag}.json" 2>> "$LOGS/torch_$tag.log"; r=$?
  [ $r = 124 ] && echo "(timed out after $tl s)" >> "$LOGS/torch_$tag.log"
  if [ $r = 0 ] && [ -s "$W/torch_${tag}.json" ]; then
    if [ -f "$W/forget_${tag}_report.json" ]; then
      $PY tools/device_compare.py ratio "$W/ratio_$tag.json" "$W/forget_${tag}_report.json" "$W/torch_${tag}.json" > "$LOGS/ratio_$tag.log" 2>&1
      local l; l=$(grep -E '^(PASS|FAIL)' "$LOGS/ratio_$tag.log" | head -1)
      if [ -n "$l" ]; then result torch "$tag" "${l%% *}" "${l#* ratio: }"; else result torch "$tag" FAIL "$(tail -1 "$LOGS/ratio_$tag.log")"; fi
    else
      result torch "$tag" PASS "$($PY -c 'import json,sys; t=json.load(open(sys.argv[1]))["timings_s"]; print("torch only (our run failed): " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))' "$W/torch_${tag}.json")"
    fi
  else
    result torch "$tag" FAIL "$(why "torch_$tag")"
  fi
}

echo; echo "== (c, d) forget class 0 of models/fmnist_cnn_bn.onnx on $DEV; the same UNSIR in PyTorch on $TORCH_DEV"
OURS_SIZES=(); TORCH_SIZES=(); TORCH_SKIP=""
if small; then
  OURS_SIZES=(--noise-steps 2 --noise-batch 64 --retain-per-class 30 --noise-copies 1)
  TORCH_SIZES=(--noise-steps 2 --noise-batch 64 --retain-per-class 30 --noise-repeats 1)
fi
forget_and_torch fmnist_cnn_bn models/fmnist_cnn_bn.onnx models/fmnist_train.npz "$TEST" fmnist 180 120

echo; echo "== (c, d) CIFAR-size ResNet-18"
if [ "$RESNET" = 0 ]; then
  result forget resnet18 SKIP "RESNET=0"; result torch resnet18 SKIP "RESNET=0"
elif ! afford 60; then
  result forget resnet18 SKIP "budget ($(left) s left)"; result torch resnet18 SKIP "budget"
else
  RM=${RESNET_MODEL:-}; RD=${RESNET_DATA:-}; RT=${RESNET_TEST:-}
  if [ -z "$RM" ]; then
    stem=${RESNET_STEM:-cifar}; ntr=10000; nte=1000
    small && { stem=${RESNET_STEM:-imagenet}; ntr=200; nte=50; }
    echo "\$ $PY tools/device_resnet18.py --out $W/resnet --stem $stem --train $ntr --test $nte" > "$LOGS/resnet_export.log"
    if timeout -k 5 "$(tlimit 90)" $PY tools/device_resnet18.py --out "$W/resnet" --stem "$stem" --train "$ntr" --test "$nte" >> "$LOGS/resnet_export.log" 2>&1; then
      RM=$W/resnet/cifar_resnet18.onnx; RD=$W/resnet/cifar_synth_train.npz; RT=$W/resnet/cifar_synth_test.npz
      echo "made $RM ($stem stem, random weights, synthetic data: times only)"
    else
      result forget resnet18 SKIP "no ResNet-18 at hand and tools/device_resnet18.py failed: $(why resnet_export)"
      result torch resnet18 SKIP "no model"
    fi
  fi
  if [ -n "$RM" ]; then
    OURS_SIZES=(); TORCH_SIZES=(); TORCH_SKIP=""
    if small; then
      OURS_SIZES=(--noise-steps 1 --noise-batch 8 --min-noise-per-class 8 --retain-per-class 4 --noise-copies 1 --batch 32)
      TORCH_SIZES=(--noise-steps 1 --noise-batch 8 --retain-per-class 4 --noise-repeats 1 --batch 32)
    fi
    case $(basename "$RM") in *cifar_resnet18*) ;; *) TORCH_SKIP="tools/unsir_torch_cuda.py knows the ResNet only by a file name containing cifar_resnet18";; esac
    forget_and_torch resnet18 "$RM" "$RD" "$RT" cifar10 200 120
  fi
fi

# ---------------------------------------------------------------------------------------- report
echo; echo "== summary ($(elapsed) s of ${BUDGET} s)"
$PY - "$RESULTS" "$W" "$OUT" "$DEV" "$(elapsed)" <<'EOF' || echo "(summary: python failed; the verdicts are in $W/results.tsv)"
import glob, json, os, sys
res_p, w, out, dev, el = sys.argv[1:6]
rows = [l.rstrip("\n").split("\t") for l in open(res_p) if l.strip()]
counts = {s: sum(1 for r in rows if r[2] == s) for s in ("PASS", "FAIL", "SKIP")}
lines = [f"device check on {dev}: {counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['SKIP']} SKIP in {el} s", ""]
lines += [f"{r[2]:<6} {r[0]:<7} {r[1]:<28} {r[3]}" for r in rows]
doc = dict(device=dev, elapsed_s=int(el), counts=counts,
           results=[dict(part=r[0], name=r[1], status=r[2], detail=r[3]) for r in rows])
for f in sorted(glob.glob(os.path.join(w, "*.json"))):
    try:
        doc[os.path.basename(f)[:-5]] = json.load(open(f))
    except Exception as e:
        doc[os.path.basename(f)[:-5]] = f"unreadable: {e}"
open(os.path.join(out, "summary.txt"), "w").write("\n".join(lines) + "\n")
json.dump(doc, open(os.path.join(out, "results.json"), "w"), indent=1)
print("\n".join(lines))
EOF
cp "$RESULTS" "$LOGS/results.tsv" 2>/dev/null
tar -C "$W" -czf "$OUT/details.tar.gz" logs $(cd "$W" && ls *.json 2>/dev/null) 2>/dev/null
echo "written: $(cd "$OUT" && ls | tr '\n' ' ')"
[ "${KEEP_WORK:-0}" = 1 ] && echo "work folder kept: $W" || rm -rf "$W"
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null || sleep 1   # let tee finish check.log before the call returns
exit 0
