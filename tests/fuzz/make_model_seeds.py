#!/usr/bin/env python3
"""Writes the fuzz_model inputs (input layout: tests/fuzz/fuzz_model.c):
seeds under corpus/model/ (valid tiny models, finite logits) and the
regression inputs under regress/model/. Run from the repository root:
    python3 tests/fuzz/make_model_seeds.py"""
import struct

F32, F16, Q8, Q4 = 0, 1, 2, 3


def inp(dim64=0, layers2=0, heads=0, kvdiv=0, ffn=0, vocab=0, odd_vocab=0, ctx=0,
        wtype=F32, align=5, tied=0, kv16=0, raw=0, scale=61, ntok=3, isa=2, mode=0,
        eps=9, seed=1, toks=(1, 2, 3, 4), pokes=()):
    b = bytearray(16)
    b[0] = dim64 | layers2 << 1 | heads << 2
    b[1] = kvdiv | ffn << 2
    b[2] = vocab | odd_vocab << 2 | ctx << 3
    b[3] = wtype | align << 2 | tied << 5 | kv16 << 6
    b[4] = raw
    b[5] = scale
    b[6] = (ntok - 1) | isa << 2 | mode << 4
    b[7] = eps
    b[8:12] = struct.pack('<I', seed)
    b[12:16] = bytes(toks)
    for tensor, off, val in pokes:
        b += bytes([tensor]) + struct.pack('<H', off) + b'\0' + val
    return bytes(b)


def f32(x):
    return struct.pack('<f', x)


seeds = {
    'f32-1layer': inp(),
    'f16-2layers-gqa': inp(wtype=F16, layers2=1, heads=2, kvdiv=1, ffn=1, isa=1, mode=1),
    'q8_0-qx16': inp(wtype=Q8, dim64=1, heads=3, kvdiv=2, ffn=3, vocab=3, ntok=4, mode=1),
    'q4_0-decode': inp(wtype=Q4, dim64=1, heads=1, ffn=1, vocab=1, ntok=1, isa=2, seed=7),
    'q8_0-odd-vocab-tied': inp(wtype=Q8, vocab=2, odd_vocab=1, tied=1, kv16=1, isa=0),
    'q4_0-embed': inp(wtype=Q4, layers2=1, heads=2, ffn=2, mode=2, ntok=4, isa=1, align=6),
    'f16-scalar-ctx': inp(wtype=F16, ctx=7, isa=0, ntok=2, kv16=1),
}
# tensor order: 0 token_embd, 1 output_norm, 2 output (untied), 3 blk.0.attn_norm, 4 attn_q ...
regress = {
    'nan-norm-weight.bad': inp(pokes=[(3, 8, f32(float('nan')))]),
    'inf-f16-weight.bad': inp(wtype=F16, pokes=[(4, 6, b'\x00\x7c\x00\x00')]),
    'nan-q8_0-scale.bad': inp(wtype=Q8, pokes=[(4, 34 * 5, b'\x00\x7e\x00\x00')]),
    'huge-norm-weight.bad': inp(wtype=Q8, dim64=1, heads=3, vocab=3, ntok=4, mode=1,
                                pokes=[(3, 4 * i, f32(3e38)) for i in range(8)]),
    'huge-norm-avx512-qx16.bad': inp(wtype=Q8, dim64=1, heads=3, vocab=3, ffn=3, ntok=4,
                                     pokes=[(3, 4 * i, f32(3e38)) for i in range(64)]),
    'huge-norm-avx2.bad': inp(wtype=Q4, isa=1, ntok=4, mode=1,
                              pokes=[(3, 4 * i, f32(-3e38)) for i in range(32)]),
    'huge-norm-scalar.bad': inp(wtype=Q8, isa=0, ntok=2,
                                pokes=[(3, 4 * i, f32(3e38)) for i in range(32)]),
    'overflow-f32-weights.bad': inp(wtype=F32, scale=127, ntok=4, mode=1),
    'overflow-q8_0-scales.bad': inp(wtype=Q8, scale=100),
    'tiny-weights.ok': inp(wtype=Q8, scale=0, ntok=4, mode=1),
    'tiny-f32-weights.ok': inp(wtype=F32, scale=0, ntok=2),
    # general.alignment = 1 (and 2): the data lands where the header ends
    'alignment-1-aligned-f32.ok': inp(align=0),
    'alignment-1-misaligned-f32.bad': inp(align=0, wtype=F32, dim64=1, layers2=1),
    'alignment-1-q8_0.ok': inp(align=0, wtype=Q8),
    'alignment-2-f32.ok': inp(align=1),
    'raw-bytes.bad': inp(raw=1, wtype=F32) + bytes(range(256)),
}
for name, data in seeds.items():
    open(f'tests/fuzz/corpus/model/{name}.seed', 'wb').write(data)
for name, data in regress.items():
    open(f'tests/fuzz/regress/model/{name}', 'wb').write(data)
