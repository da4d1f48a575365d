#!/usr/bin/env python3
"""Prints one JSON line about a GGUF model for bench/engine/run.sh: file size, the bytes and
elements of weights one generated token reads (every matrix once; the embedding table only when
it is also the output matrix, else one row of it, which is negligible), and what the KV cache
needs per position.

    gguf_summary.py MODEL.gguf
"""
import json
import os
import struct
import sys

# ggml type id -> (block size in elements, bytes per block)
TYPES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
         8: (32, 34), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
         14: (256, 210), 30: (1, 2)}
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self):
        n = self.take("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def value(self, kind):
        if kind == 8:
            return self.string()
        if kind == 9:
            inner, n = self.take("<I"), self.take("<Q")
            return [self.value(inner) for _ in range(n)]
        return self.take(SCALARS[kind])


def summarize(path):
    with open(path, "rb") as f:
        data = f.read(64 << 20)  # the header and metadata; tensor data is not needed
    r = Reader(data)
    if r.take("<I") != 0x46554747:
        raise SystemExit(f"{path}: not a GGUF file")
    r.take("<I")
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.take("<I"))
    tensors = {}
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        kind = r.take("<I")
        r.take("<Q")
        elements = 1
        for d in dims:
            elements *= d
        block, block_bytes = TYPES[kind]
        tensors[name] = (dims, elements, elements // block * block_bytes)
    arch = meta["general.architecture"]
    tied = "output.weight" not in tensors
    read_bytes = read_elements = 0
    for name, (dims, elements, nbytes) in tensors.items():
        if name == "token_embd.weight" and not tied:
            continue
        read_bytes += nbytes
        if len(dims) >= 2:
            read_elements += elements
    heads = meta[f"{arch}.attention.head_count"]
    kv_heads = meta.get(f"{arch}.attention.head_count_kv", heads)
    head_dim = meta.get(f"{arch}.attention.key_length",
                        meta[f"{arch}.embedding_length"] // heads)
    layers = meta[f"{arch}.block_count"]
    return {
        "file_bytes": os.path.getsize(path),
        "read_bytes_per_token": read_bytes,
        # multiply-adds per token in the matrix products: 2 ops each
        "matmul_elements_per_token": read_elements,
        "kv_elements_per_position": 2 * layers * kv_heads * head_dim,
    }


if __name__ == "__main__":
    print(json.dumps(summarize(sys.argv[1])))
