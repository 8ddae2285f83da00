#!/usr/bin/python3
"""Writes the PNG test files next to this script with a minimal PNG encoder of its own
(zlib + struct), independent of libpng. Pixel values follow formulas that
tests/io/png_test.cpp recomputes. Run with /usr/bin/python3; the output is deterministic."""
import pathlib
import struct
import zlib

HERE = pathlib.Path(__file__).resolve().parent
W, H = 7, 5


def v8(x, y, c):
    return (x * 37 + y * 11 + c * 101) % 256


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(color_type: int, depth: int, rows, extra=()):
    """rows: list of bytes per row (already packed samples)."""
    ihdr = struct.pack(">IIBBBBB", W, H, depth, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 (None) on every row
    body = [chunk(b"IHDR", ihdr), *extra, chunk(b"IDAT", zlib.compress(raw, 9)), chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(body)


def rows_of(channels, depth):
    out = []
    for y in range(H):
        r = b""
        for x in range(W):
            for c in channels:
                value = c(x, y)
                r += struct.pack(">H", value) if depth == 16 else bytes([value])
        out.append(r)
    return out


rgb = [lambda x, y, c=c: v8(x, y, c) for c in range(3)]
alpha = [lambda x, y: (x * 50 + y) % 256]
gray = [lambda x, y: v8(x, y, 0)]
# 16-bit samples: v * 257 + an offset in [0, 256], so that scaling to 8 bits must round
# (truncating to the high byte would be wrong for offsets above 128).
rgb16 = [lambda x, y, c=c: min(65535, v8(x, y, c) * 257 + (x * 13 + y * 29) % 257) for c in range(3)]
gray16 = [lambda x, y: min(65535, v8(x, y, 0) * 257 + 128)]

text = chunk(b"tEXt", b"parameters\x00a photo of a cat\nSteps: 20, Sampler: Euler a, Seed: 1234")
itxt = chunk(b"iTXt", b"Comment\x00\x00\x00\x00\x00" + "caf\u00e9 \u732b".encode())
latin1_after_image = chunk(b"tEXt", b"Author\x00Jos\xe9")

FILES = {
    "rgb8.png": png(2, 8, rows_of(rgb, 8), extra=[text, itxt]),
    "rgba8.png": png(6, 8, rows_of(rgb + alpha, 8)),
    "gray8.png": png(0, 8, rows_of(gray, 8)),
    "gray_alpha8.png": png(4, 8, rows_of(gray + alpha, 8)),
    "rgb16.png": png(2, 16, rows_of(rgb16, 16)),
    "gray16.png": png(0, 16, rows_of(gray16, 16)),
}
# Latin-1 text after the image data (tEXt may come after IDAT).
FILES["text_after_image.png"] = FILES["gray8.png"][:-12] + latin1_after_image + FILES["gray8.png"][-12:]
good = FILES["rgb8.png"]
FILES["not_a_png.png"] = b"GIF89a this is not a PNG at all"
FILES["truncated.png"] = good[: len(good) * 2 // 3]
idat = good.index(b"IDAT")
FILES["bad_crc.png"] = good[: idat + 6] + bytes([good[idat + 6] ^ 0xFF]) + good[idat + 7:]

for name, data in FILES.items():
    (HERE / name).write_bytes(data)
print(f"{len(FILES)} files in {HERE}")
