#!/usr/bin/env python3
"""Keep only the GPU code of some architectures in a CUDA library, for a smaller transfer.

    tools/prune_fatbin.py LIB OUT --keep 90 [--keep 89 ...]

ONNX Runtime's CUDA provider carries machine code for several GPU generations (sm_75 ... sm_120),
about 205 MiB of its 284 MiB, already zstd-compressed, so xz cannot shrink it. A device check on
one known GPU (H100/H200: sm_90) needs one generation only. This copies LIB to OUT with the payload
of every other architecture's cubin overwritten by zeros (which compress to nothing). Headers,
sizes and offsets are left as they are, so the ELF file and each fat binary keep their layout; the
CUDA driver picks the entry of the GPU's own architecture and never reads the others. The pruned
library does not run on a GPU of an architecture that was not kept ("no kernel image").

Fat binary layout (CUDA's fatbinary.h): a header {u32 magic 0xBA55ED50, u16 version, u16 header
size, u64 size of the entries}, then entries {u16 kind, u16 version, u32 header size, u64 payload
size, ..., u32 arch at byte 28, ...} each followed by its payload.
"""
import argparse
import struct
import sys

MAGIC = 0xBA55ED50


def fatbin_section(data):
    """(offset, size) of the .nv_fatbin section of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("prune_fatbin: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = sections[shstrndx][4]
    for name, _type, _flags, _addr, offset, size in sections:
        end = data.index(b"\0", names_at + name)
        if data[names_at + name:end] == b".nv_fatbin":
            return offset, size
    sys.exit("prune_fatbin: the library has no .nv_fatbin section")


def prune(data, keep):
    """Zero the payloads of entries whose arch is not in keep; returns {arch: [entries, bytes, kept]}."""
    start, size = fatbin_section(data)
    stats = {}
    pos = start
    while pos + 16 <= start + size:
        magic, _version, header_size, entries_size = struct.unpack_from("<IHHQ", data, pos)
        if magic != MAGIC:  # fat binaries are 8-byte aligned; padding lies between them
            pos += 8
            continue
        entry = pos + header_size
        end = entry + entries_size
        while entry < end:
            _kind, _ver, entry_header, payload = struct.unpack_from("<HHIQ", data, entry)
            arch, = struct.unpack_from("<I", data, entry + 28)
            body = entry + entry_header
            s = stats.setdefault(arch, [0, 0, arch in keep])
            s[0] += 1
            s[1] += payload
            if arch not in keep:
                data[body:body + payload] = bytes(payload)
            entry = body + payload
        pos = end
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lib")
    ap.add_argument("out")
    ap.add_argument("--keep", type=int, action="append", required=True, help="sm_XX architecture to keep, e.g. 90")
    args = ap.parse_args()
    data = bytearray(open(args.lib, "rb").read())
    stats = prune(data, set(args.keep))
    if not any(kept for _, _, kept in stats.values()):
        sys.exit(f"prune_fatbin: {args.lib} has no code for sm_{args.keep}; it has {sorted(stats)}")
    with open(args.out, "wb") as f:
        f.write(data)
    for arch in sorted(stats):
        n, size, kept = stats[arch]
        print(f"prune_fatbin: sm_{arch}: {n} cubins, {size / 2**20:.1f} MiB, {'kept' if kept else 'zeroed'}", file=sys.stderr)


if __name__ == "__main__":
    main()
