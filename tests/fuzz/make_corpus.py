#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (tests/fuzz/<target>/corpus/).

Seeds are small hand-built files that reach deep into each parser: GGUF v2/v3 with every
metadata type, arrays, a tiny vocabulary and tensors of several types; a tiny llama2.c
checkpoint with its tokenizer; texts for the tokenizers. Run it again after changing a format;
AFL++ mutates from here.
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    d = os.path.join(HERE, target, "corpus")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- GGUF ---------------------------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
       U64: "<Q", I64: "<q", F64: "<d"}


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, i) for i in items)
    return struct.pack(FMT[t], v)


def gguf(version, kvs, tensors, alignment=32):
    head = b"GGUF" + struct.pack("<I", version) + struct.pack("<QQ", len(tensors), len(kvs))
    for k, t, v in kvs:
        head += gstr(k) + struct.pack("<I", t) + gval(t, v)
    data = b""
    infos = b""
    for name, ttype, shape, payload in tensors:
        pad = (-len(data)) % alignment
        data += b"\0" * pad
        infos += gstr(name) + struct.pack("<I", len(shape)) + b"".join(
            struct.pack("<Q", d) for d in shape) + struct.pack("<IQ", ttype, len(data))
        data += payload
    blob = head + infos
    blob += b"\0" * ((-len(blob)) % alignment)
    return blob + data


def f32s(n, rng):
    return struct.pack("<%df" % n, *[rng.uniform(-1, 1) for _ in range(n)])


def q8_0_block(rng):  # f16 scale + 32 int8
    return struct.pack("<e", 0.01) + bytes(rng.randrange(256) for _ in range(32))


rng = random.Random(1)
all_types = [
    ("general.architecture", STR, "llama"), ("general.name", STR, "fuzz seed"),
    ("general.alignment", U32, 32), ("t.u8", U8, 7), ("t.i8", I8, -7), ("t.u16", U16, 700),
    ("t.i16", I16, -700), ("t.i32", I32, -70000), ("t.f32", F32, 0.5), ("t.bool", BOOL, True),
    ("t.u64", U64, 1 << 40), ("t.i64", I64, -(1 << 40)), ("t.f64", F64, 2.5),
    ("t.arr", ARR, (I32, [1, 2, 3])), ("t.nested", ARR, (ARR, [(U8, [1, 2]), (U8, [3])])),
    ("t.strs", ARR, (STR, ["a", "bc", ""])),
]
tensors = [
    ("a.weight", 0, [4, 2], f32s(8, rng)),
    ("b.weight", 8, [32, 2], q8_0_block(rng) + q8_0_block(rng)),
    ("c.weight", 1, [3], struct.pack("<3e", 1.0, -2.0, 0.25)),
]
v3 = gguf(3, all_types, tensors)
out("gguf_reader", "all_types_v3.gguf", v3)
out("gguf_reader", "all_types_v2.gguf", gguf(2, all_types[:5], tensors[:1]))
out("gguf_reader", "empty_v3.gguf", gguf(3, [], []))
out("gguf_reader", "truncated.gguf", v3[:100])

# A tiny SentencePiece-style vocabulary: control, byte and normal tokens.
pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(4)] + [
    "\u2581", "a", "b", "\u2581a", "ab", "\u2581ab"]
kinds = [2, 3, 3] + [6] * 4 + [1] * 6
spm = [
    ("general.architecture", STR, "llama"), ("tokenizer.ggml.model", STR, "llama"),
    ("tokenizer.ggml.tokens", ARR, (STR, pieces)),
    ("tokenizer.ggml.scores", ARR, (F32, [0.0] * 7 + [-1.0, -2.0, -2.0, -1.5, -1.2, -0.5])),
    ("tokenizer.ggml.token_type", ARR, (I32, kinds)),
    ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
    ("tokenizer.ggml.unknown_token_id", U32, 0),
]
out("gguf_reader", "spm_vocab.gguf", gguf(3, spm, []))
bpe = [
    ("general.architecture", STR, "gpt2"), ("tokenizer.ggml.model", STR, "gpt2"),
    ("tokenizer.ggml.pre", STR, "gpt-2"),
    ("tokenizer.ggml.tokens", ARR, (STR, ["a", "b", "\u0120", "ab", "\u0120a", "<|endoftext|>"])),
    ("tokenizer.ggml.token_type", ARR, (I32, [1, 1, 1, 1, 1, 3])),
    ("tokenizer.ggml.merges", ARR, (STR, ["a b", "\u0120 a"])),
    ("tokenizer.ggml.bos_token_id", U32, 5), ("tokenizer.ggml.eos_token_id", U32, 5),
]
out("gguf_reader", "bpe_vocab.gguf", gguf(3, bpe, []))

# --- llama2.c -----------------------------------------------------------------------------
# Input layout of the llama2c_loader target: u32 checkpoint length, checkpoint, tokenizer.bin.
dim, hidden, layers, heads, kv_heads, vocab, seq = 8, 16, 1, 2, 2, 8, 4
head_dim = dim // heads
n = (vocab * dim + layers * dim + layers * dim * dim * 2 + layers * dim * kv_heads * head_dim * 2
     + layers * dim + layers * hidden * dim * 3 + dim + seq * head_dim)
ckpt = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq) + f32s(n, rng)
tok_pieces = [b"<unk>", b"<s>", b"</s>", b" ", b"a", b"b", b" a", b"ab"]
tok = struct.pack("<i", max(len(p) for p in tok_pieces)) + b"".join(
    struct.pack("<fi", -float(i), len(p)) + p for i, p in enumerate(tok_pieces))
out("llama2c_loader", "tiny.bin", struct.pack("<I", len(ckpt)) + ckpt + tok)
untied = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, -vocab, seq) + f32s(
    n + vocab * dim, rng)
out("llama2c_loader", "tiny_untied.bin", struct.pack("<I", len(untied)) + untied + tok)
out("llama2c_loader", "short_header.bin", struct.pack("<I", 12) + ckpt[:12] + tok)

# --- tokenizers ---------------------------------------------------------------------------
# First byte: bits 0-1 pick the tokenizer, bit 2 adds special tokens, bit 3 parses them.
texts = [
    b"Once upon a time, there was a little girl named Lily.",
    "héllo wörld ✓ 🚀 日本語 \t\n  spaces   end".encode(),
    b"def f(x):\n    return x ** 2  # 12345 67.89",
    b"<s>special</s><|endoftext|> <unk>",
    b"\xff\xfe invalid \xc3 utf-8 \xe2\x82",
    b"",
]
for i, t in enumerate(texts):
    out("tokenizer", "text_%d" % i, bytes([i % 16]) + t)
