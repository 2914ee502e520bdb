#!/usr/bin/env bash
# Find the CUDA 13 runtime, cuBLAS, cuRAND and cuDNN 9 libraries that ONNX Runtime's CUDA
# execution provider loads (libonnxruntime_providers_cuda.so needs libcudart.so.13,
# libcublas.so.13, libcublasLt.so.13, libcurand.so.10 and libcuda.so.1, and dlopens libcudnn.so.9).
# Looks, in order, in LD_LIBRARY_PATH, the ldconfig cache, the CUDA toolkit folders, then the
# Python packages' nvidia/*/lib folders (pip's nvidia-cuda-runtime, nvidia-cublas,
# nvidia-cudnn-cu13, ...) and torch/lib.
#
#   eval "$(bash tools/device-libs.sh)"       # prints 'export LD_LIBRARY_PATH=...'; the report goes to stderr
#   bash tools/device-libs.sh --report        # the report only, on stdout
#
# Exit status 0 when every required library was found, 1 otherwise (the export line is printed
# either way). PROVIDER=path/to/libonnxruntime_providers_cuda.so adds an ldd check of it.
set -uo pipefail

mode=${1:-export}
required=(libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudnn.so.9)
optional=(libcudnn_graph.so.9 libcudnn_engines_precompiled.so.9 libcudnn_ops.so.9 libcudnn_cnn.so.9 libnvrtc.so.13 libcufft.so.12)

report() { if [ "$mode" = --report ]; then echo "$*"; else echo "$*" >&2; fi; }

# Candidate folders, in order of preference.
dirs=()
IFS=: read -r -a ld <<< "${LD_LIBRARY_PATH:-}"
for d in "${ld[@]}"; do [ -n "$d" ] && dirs+=("$d"); done
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 \
         /usr/local/cuda-13*/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
         /usr/lib/x86_64-linux-gnu /usr/lib64; do
  [ -d "$d" ] && dirs+=("$d")
done
sites=()
for py in python3 /opt/torch/.venv/bin/python3 /usr/bin/python3; do
  command -v "$py" >/dev/null 2>&1 || continue
  while IFS= read -r s; do [ -n "$s" ] && sites+=("$s"); done < <("$py" -c \
    'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")]))' 2>/dev/null)
done
for s in /opt/*/.venv/lib/python3*/site-packages /usr/local/lib/python3*/dist-packages /usr/lib/python3/dist-packages; do
  [ -d "$s" ] && sites+=("$s")
done
for s in "${sites[@]}"; do
  for d in "$s"/nvidia/*/lib "$s"/nvidia/*/lib64 "$s"/nvidia/*/*/lib "$s"/torch/lib; do
    [ -d "$d" ] && dirs+=("$d")
  done
done
# Unique, in order.
declare -A seen=()
uniq_dirs=()
for d in "${dirs[@]}"; do
  r=$(readlink -f "$d" 2>/dev/null || echo "$d")
  [ -n "${seen[$r]:-}" ] && continue
  seen[$r]=1
  uniq_dirs+=("$d")
done

ldcache=$(ldconfig -p 2>/dev/null || true)
path_dirs=()
add_dir() { local d=$1 x; for x in "${path_dirs[@]:-}"; do [ "$x" = "$d" ] && return; done; path_dirs+=("$d"); }
missing=0
find_lib() {  # $1 soname, $2 required|optional
  local so=$1 d hit=""
  for d in "${uniq_dirs[@]}"; do
    if [ -e "$d/$so" ]; then hit="$d/$so"; break; fi
  done
  if [ -z "$hit" ]; then
    hit=$(awk -v so="$so" '$1 == so && /x86-64/ {print $NF; exit}' <<< "$ldcache")
    [ -n "$hit" ] && { report "  $(printf '%-36s' "$so") $(readlink -f "$hit")  (ldconfig cache)"; return 0; }
  fi
  if [ -n "$hit" ]; then
    add_dir "$(dirname "$hit")"
    report "  $(printf '%-36s' "$so") $(readlink -f "$hit")"
  else
    report "  $(printf '%-36s' "$so") NOT FOUND ($2)"
    [ "$2" = required ] && missing=1
  fi
  return 0
}

report "CUDA libraries for ONNX Runtime's CUDA provider:"
for so in "${required[@]}"; do find_lib "$so" required; done
for so in "${optional[@]}"; do find_lib "$so" optional; done
# The driver's libcuda.so.1: the ldconfig cache first, then the folders above (never a toolkit stub).
drv=$(awk '$1 == "libcuda.so.1" && /x86-64/ {print $NF; exit}' <<< "$ldcache")
if [ -z "$drv" ]; then
  for d in "${uniq_dirs[@]}"; do
    case $d in */stubs|*/stubs/*) continue ;; esac
    [ -e "$d/libcuda.so.1" ] && { drv="$d/libcuda.so.1"; add_dir "$d"; break; }
  done
fi
if [ -n "$drv" ]; then report "  $(printf '%-36s' libcuda.so.1) $(readlink -f "$drv")"
else report "  $(printf '%-36s' libcuda.so.1) NOT FOUND (the driver; required)"; missing=1; fi
ssl=$(awk '$1 ~ /^libssl\.so\.(3|1\.1)$/ {print $NF; exit}' <<< "$ldcache")
report "  $(printf '%-36s' 'libssl (.NET SHA-256)') ${ssl:-NOT FOUND in the ldconfig cache (SHA-256 in the forget report needs it)}"

add=()   # the folders found that LD_LIBRARY_PATH does not hold yet
for d in "${path_dirs[@]:-}"; do
  [ -n "$d" ] || continue
  case ":${LD_LIBRARY_PATH:-}:" in *":$d:"*) ;; *) add+=("$d") ;; esac
done
joined=$(IFS=:; echo "${add[*]:-}")
new_path=${joined}${LD_LIBRARY_PATH:+${joined:+:}$LD_LIBRARY_PATH}
report "  LD_LIBRARY_PATH += ${joined:-(nothing to add)}"
if [ -n "${PROVIDER:-}" ] && [ -f "$PROVIDER" ]; then
  nf=$(LD_LIBRARY_PATH="$new_path" ldd "$PROVIDER" 2>&1 | grep -i 'not found' || true)
  if [ -n "$nf" ]; then report "  ldd $(basename "$PROVIDER"): unresolved:"; report "$nf"; missing=1
  else report "  ldd $(basename "$PROVIDER"): every needed library resolves"; fi
fi
[ "$mode" = --report ] || printf 'export LD_LIBRARY_PATH=%q\n' "$new_path"
exit "$missing"
