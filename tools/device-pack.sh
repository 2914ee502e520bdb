#!/usr/bin/env bash
# Pack the GPU build (bin/gpu, from `make build-gpu`) for the device machine, which has no .NET SDK
# and no network and takes at most 64 MiB per call (the working tree included): one tar.xz, cut
# into chunks small enough that each call can carry one chunk beside the working tree.
#
#   make build-gpu && tools/device-pack.sh
#
# Writes into .device/ (it ignores itself with its own .gitignore):
#   MANIFEST            sha256sum-format lines for the whole archive and every chunk, '#' notes
#   gpu.tar.xz.01 ...   the chunks
# Then, on the device, one call per chunk, each carrying .device/MANIFEST and that chunk:
#   bash tools/device-unpack.sh && bash tools/device-check.sh
# (tools/device-unpack.sh reassembles them in /tmp/onnx-unlearn-gpu; see its header.)
#
# Environment: SRC (default bin/gpu), DEST (.device), CHUNK_MIB (default: what the 64 MiB per call
# leaves beside the working tree, at most 55), XZ_LEVEL (default -9), LIMIT_MIB (64),
# CUDA_ARCHS (e.g. "90" for H100/H200: keep only these GPU generations' code in the CUDA provider,
# tools/prune_fatbin.py; 195 MiB packed becomes 68 MiB; default: all).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

SRC=${SRC:-bin/gpu}
DEST=${DEST:-.device}
LIMIT_MIB=${LIMIT_MIB:-64}
XZ_LEVEL=${XZ_LEVEL:--9}
MIB=1048576

[ -x "$SRC/onnx-unlearn" ] || { echo "device-pack: $SRC/onnx-unlearn not found; run 'make build-gpu' first" >&2; exit 2; }
[ -f "$SRC/libonnxruntime_providers_cuda.so" ] || { echo "device-pack: $SRC has no libonnxruntime_providers_cuda.so: not the GPU build" >&2; exit 2; }
command -v xz >/dev/null || { echo "device-pack: xz is not installed" >&2; exit 2; }

# What travels on every call anyway: tracked files, untracked files git does not ignore, shared/.
tree_bytes=$( { git ls-files -z --cached --others --exclude-standard; if [ -d shared ]; then find shared -type f -print0; fi; } \
  | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s+=$1} END {print s+0}')
# Left for one chunk: the limit, less the tree, the manifest and 1 MiB of margin; at most 55 MiB.
room=$(( LIMIT_MIB * MIB - tree_bytes - MIB - 8192 ))
if [ -n "${CHUNK_MIB:-}" ]; then
  chunk=$(( CHUNK_MIB * MIB ))
else
  chunk=$(( room < 55 * MIB ? room : 55 * MIB ))
  chunk=$(( chunk / MIB * MIB ))   # whole MiB
fi
if [ "$chunk" -le 0 ] || [ "$chunk" -gt "$room" ]; then
  echo "device-pack: the working tree already takes $((tree_bytes / 1024)) KiB of the ${LIMIT_MIB} MiB per call;" \
       "a chunk of $((chunk / MIB)) MiB does not fit beside it (room $((room / MIB)) MiB)" >&2
  exit 2
fi

rm -rf "$DEST"
mkdir -p "$DEST"
printf '*\n' > "$DEST/.gitignore"   # the folder ignores itself: nothing in it is ever committed

# Files left out: TensorRT provider (needs TensorRT, never used), debugger/diagnostics helpers.
# A SHA256SUMS of what is packed goes inside the archive so the unpacked tree can be checked.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
exclude=(libonnxruntime_providers_tensorrt.so createdump libmscordaccore.so libmscordbi.so)
mkdir -p "$stage/gpu"
(cd "$SRC" && find . -maxdepth 1 -type f) | sed 's|^\./||' | sort | while read -r f; do
  skip=0; for x in "${exclude[@]}"; do [ "$f" = "$x" ] && skip=1; done
  [ $skip = 1 ] && continue
  if [ "$f" = libonnxruntime_providers_cuda.so ] && [ -n "${CUDA_ARCHS:-}" ]; then
    keep=(); for a in $CUDA_ARCHS; do keep+=(--keep "$a"); done
    python3 tools/prune_fatbin.py "$SRC/$f" "$stage/gpu/$f" "${keep[@]}"
    chmod +x "$stage/gpu/$f"
  else
    ln "$SRC/$f" "$stage/gpu/$f" 2>/dev/null || cp -p "$SRC/$f" "$stage/gpu/$f"
  fi
done
[ -z "$(cd "$SRC" && find . -mindepth 1 -type d)" ] || (cd "$SRC" && find . -mindepth 1 -type d) | while read -r d; do
  mkdir -p "$stage/gpu/$d"; cp -pr "$SRC/$d/." "$stage/gpu/$d/"; done
(cd "$stage/gpu" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
raw=$(du -sb "$stage/gpu" | cut -f1)

echo "device-pack: packing $SRC ($((raw / MIB)) MiB; left out: ${exclude[*]}; GPU code: sm_${CUDA_ARCHS:-all}) with xz $XZ_LEVEL ..." >&2
start=$(date +%s)
tar -C "$stage" --owner=0 --group=0 --numeric-owner -cf - gpu | xz "$XZ_LEVEL" -T0 -c > "$DEST/gpu.tar.xz"
size=$(stat -c %s "$DEST/gpu.tar.xz")
split -b "$chunk" -d -a 2 --numeric-suffixes=1 "$DEST/gpu.tar.xz" "$DEST/gpu.tar.xz."
n=$(ls "$DEST"/gpu.tar.xz.[0-9][0-9] | wc -l)

rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo "+dirty-src")
{
  echo "# onnx-unlearn GPU build packed by tools/device-pack.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $rev"
  echo "# chunks $n; archive $size bytes; unpacked $raw bytes; format tar.xz; GPU code sm_${CUDA_ARCHS:-all}"
  (cd "$DEST" && sha256sum gpu.tar.xz gpu.tar.xz.[0-9][0-9])
} > "$DEST/MANIFEST"
rm -f "$DEST/gpu.tar.xz"   # only the chunks travel; the device rebuilds the archive from them

echo "device-pack: $n chunks of at most $((chunk / MIB)) MiB, $((size / MIB)) MiB in all ($(( $(date +%s) - start )) s); tree $((tree_bytes / 1024)) KiB travels with each" >&2
ls -l "$DEST" >&2
echo "device calls, one per chunk, back to back (the machine stays warm about 30 s after a call):" >&2
for i in $(seq 1 "$n"); do
  printf '  run  carry=[".device/MANIFEST", ".device/gpu.tar.xz.%02d"]  command="bash tools/device-unpack.sh && bash tools/device-check.sh"\n' "$i" >&2
done
