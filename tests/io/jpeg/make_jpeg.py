"""Writes the JPEG test files of jpeg_test.cpp with Pillow (an encoder independent of the
reader under test) and, beside each, Pillow's own decoding of it as a PNG (the oracle: Pillow
decodes with libjpeg's default integer IDCT and fancy upsampling, as read_jpeg does).
Run with /usr/bin/python3 from this folder; the outputs are committed."""
import io

import numpy as np
from PIL import Image

W, H = 13, 9  # odd sizes: partial MCUs and chroma subsampling edges


def pattern():
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([(x * 19 + y * 7) % 256, (x * 5 + y * 23 + 60) % 256, (x * y * 3 + 128) % 256], -1).astype(np.uint8)


def save(name, image, **options):
    image.save(name + ".jpg", "JPEG", **options)
    Image.open(name + ".jpg").convert("RGB").save(name + ".decoded.png")


rgb = Image.fromarray(pattern(), "RGB")
save("rgb_420", rgb, quality=90)  # 4:2:0 chroma, the usual camera / web file
save("rgb_444_progressive", rgb, quality=95, subsampling=0, progressive=True)
save("gray", rgb.convert("L"), quality=90)
Image.fromarray(pattern(), "RGB").convert("CMYK").save("cmyk.jpg", "JPEG", quality=90)

data = open("rgb_420.jpg", "rb").read()
open("truncated.jpg", "wb").write(data[: len(data) * 2 // 3])
# Damaged entropy-coded data: an end-of-image marker in the middle of the scan (a file
# cut and glued back), which libjpeg reports as a warning and fills with gray.
sos = data.index(b"\xff\xda")
middle = (sos + len(data)) // 2
open("damaged.jpg", "wb").write(data[:middle] + b"\xff\xd9" + data[middle:])
open("not_a_jpeg.jpg", "wb").write(b"GIF89a not a jpeg at all")
