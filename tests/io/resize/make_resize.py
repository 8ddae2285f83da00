"""Writes the Lanczos resize oracle of image_resize_test.cpp: an input picture and Pillow's
Image.resize(size, LANCZOS) of it to several sizes (down, up, one axis only, both ways at
once), as PNGs. Run with /usr/bin/python3 from this folder; the outputs are committed."""
import numpy as np
from PIL import Image

W, H = 37, 23
y, x = np.mgrid[0:H, 0:W]
# Sharp edges and a smooth ramp: the filter's negative lobes must clamp at 0 and 255.
pixels = np.stack([np.where((x // 4 + y // 3) % 2 == 0, 255, 0),
                   (x * 7 + y * 11) % 256,
                   np.where(x > W // 2, 250, 5) + (y % 3)], -1).astype(np.uint8)
source = Image.fromarray(pixels, "RGB")
source.save("source.png")
for w, h in [(16, 10), (80, 49), (37, 60), (20, 23), (53, 17), (1, 1)]:
    source.resize((w, h), Image.Resampling.LANCZOS).save(f"lanczos_{w}x{h}.png")
