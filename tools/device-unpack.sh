#!/usr/bin/env bash
# On the device machine: collect the chunks of the GPU build that tools/device-pack.sh cut, one or
# more per call, in a staging folder outside the repository that outlives the call while the
# machine stays warm; once all have arrived, check them and unpack.
#
#   bash tools/device-unpack.sh && bash tools/device-check.sh
#
# Reads .device/MANIFEST and whichever .device/gpu.tar.xz.NN came with this call.
# Exit status: 0 the build is unpacked (now or before) at $STAGE/gpu/onnx-unlearn;
#              3 chunks are still missing (the output names them); 1 a chunk or the archive is damaged
#              or something else failed; 2 no manifest came with the call.
# The first call on a fresh machine also prints where the CUDA libraries are (tools/device-libs.sh),
# so that a missing library shows up before the other chunks are sent.
#
# Environment: DEVICE_DIR (default .device), STAGE (default /tmp/onnx-unlearn-gpu).
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE_DIR=${DEVICE_DIR:-.device}
STAGE=${STAGE:-/tmp/onnx-unlearn-gpu}
M="$DEVICE_DIR/MANIFEST"
say() { echo "device-unpack: $*"; }

[ -f "$M" ] || { say "no $M came with this call: carry .device/MANIFEST with every chunk"; exit 2; }
archive_sum=$(awk '$2 == "gpu.tar.xz" {print $1}' "$M")
mapfile -t names < <(awk '$2 ~ /^gpu\.tar\.xz\.[0-9]+$/ {print $2}' "$M")
n=${#names[@]}
[ -n "$archive_sum" ] && [ "$n" -gt 0 ] || { say "$M is not a device-pack manifest"; exit 2; }

# Already unpacked from this very archive (a re-run of the check on a warm machine)?
if [ -x "$STAGE/gpu/onnx-unlearn" ] && [ "$(cat "$STAGE/unpacked.sha256" 2>/dev/null)" = "$archive_sum" ]; then
  say "already unpacked at $STAGE/gpu ($(head -1 "$M" | sed 's/^# //'))"
  exit 0
fi

# A different build than the chunks already staged: start over.
fresh=0
newbuild=0
if [ ! -f "$STAGE/MANIFEST" ] || [ "$(cat "$M")" != "$(cat "$STAGE/MANIFEST")" ]; then
  [ -f "$STAGE/MANIFEST" ] && { say "a new build arrived: dropping the chunks staged for the old one"; newbuild=1; }
  rm -rf "$STAGE"
  mkdir -p "$STAGE/chunks"
  cp "$M" "$STAGE/MANIFEST"
  fresh=1
fi

status=0
for name in "${names[@]}"; do
  f="$DEVICE_DIR/$name"
  [ -f "$f" ] || continue
  want=$(awk -v n="$name" '$2 == n {print $1}' "$M")
  got=$(sha256sum "$f" | cut -d' ' -f1)
  if [ "$got" = "$want" ]; then
    cp "$f" "$STAGE/chunks/$name" && say "received $name ($(stat -c %s "$f") bytes, sha256 ok)"
  else
    say "DAMAGED $name: sha256 $got, manifest says $want; send it again"
    status=1
  fi
done

missing=()
for name in "${names[@]}"; do [ -f "$STAGE/chunks/$name" ] || missing+=("$name"); done
have=$(( n - ${#missing[@]} ))

if [ "$fresh" = 1 ] && [ "$have" -lt "$n" ]; then
  # First call on this machine: report the GPU and CUDA libraries while the other chunks travel.
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/device-unpack: gpu: /'
  else say "gpu: nvidia-smi not found"; fi
  bash tools/device-libs.sh --report 2>&1 | sed 's/^/device-unpack: /'
fi

if [ "${#missing[@]}" -gt 0 ]; then
  say "have $have of $n chunks; still missing: ${missing[*]}"
  if [ "$fresh" = 1 ] && [ "$newbuild" = 0 ] && [ "${missing[0]}" = "${names[0]}" ] && [ "$have" -gt 0 ]; then
    say "note: nothing was staged here before this call (a fresh machine: the last one went back?); send the missing chunks again"
  fi
  [ "$status" = 0 ] && exit 3 || exit "$status"
fi

say "all $n chunks here; checking and unpacking into $STAGE/gpu"
start=$(date +%s)
cat "${names[@]/#/$STAGE/chunks/}" > "$STAGE/gpu.tar.xz" || { say "cannot write $STAGE/gpu.tar.xz"; exit 1; }
got=$(sha256sum "$STAGE/gpu.tar.xz" | cut -d' ' -f1)
if [ "$got" != "$archive_sum" ]; then
  say "the reassembled archive's sha256 $got differs from the manifest's $archive_sum"
  rm -rf "$STAGE/chunks" "$STAGE/gpu.tar.xz"
  exit 1
fi
rm -rf "$STAGE/gpu"
if command -v xz >/dev/null 2>&1; then
  xz -dc -T0 "$STAGE/gpu.tar.xz" | tar -C "$STAGE" -xf -
else  # no xz binary: Python's lzma and tarfile do the same
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$STAGE/gpu.tar.xz" "$STAGE"
fi
rc=$?
if [ "$rc" != 0 ] || ! (cd "$STAGE/gpu" && sha256sum --quiet -c SHA256SUMS); then
  say "unpacking failed (status $rc) or the unpacked files do not match their SHA256SUMS"
  exit 1
fi
rm -f "$STAGE/gpu.tar.xz"
echo "$archive_sum" > "$STAGE/unpacked.sha256"
say "unpacked and verified $(wc -l < "$STAGE/gpu/SHA256SUMS") files ($(du -sh "$STAGE/gpu" | cut -f1)) in $(( $(date +%s) - start )) s: $STAGE/gpu/onnx-unlearn"
exit 0
