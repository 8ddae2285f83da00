#!/usr/bin/python3
"""Writes pairs of PNG images and scikit-image 0.19's PSNR / SSIM for each (the oracle of
image_quality_test.cpp). Usage: ssim_oracle.py OUT_DIR SEED
OUT_DIR/cases.txt: one line per pair: name a.png b.png psnr ssim (psnr 'inf' when equal).
SSIM as Wang et al. 2004: gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=255, channel_axis=-1 (per channel, averaged)."""
import os
import sys

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

out, seed = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(seed)


def structured(h, w):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(x / 5.0 + c) * np.cos(y / 7.0 - c) for c in range(3)], axis=-1)
    img[h // 4: h // 2, w // 3: 2 * w // 3] = [250, 20, 90]  # a flat rectangle with hard edges
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def box_blur(img):
    f = img.astype(np.float64)
    p = np.pad(f, ((1, 1), (1, 1), (0, 0)), mode="edge")
    s = sum(p[dy:dy + f.shape[0], dx:dx + f.shape[1]] for dy in range(3) for dx in range(3)) / 9
    return np.round(s).astype(np.uint8)


def noisy(img, std):
    return np.clip(np.round(img + rng.normal(0, std, img.shape)), 0, 255).astype(np.uint8)


h, w = int(rng.integers(20, 70)), int(rng.integers(20, 70))
base = structured(h, w)
pairs = {
    "random": (rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(0, 256, (h, w, 3), dtype=np.uint8)),
    "noisy": (base, noisy(base, 12.0)),
    "blurred": (base, box_blur(base)),
    "shifted": (base, np.roll(base, 2, axis=1)),
    "identical": (base, base.copy()),
    "one_pixel": (base, base.copy()),
    "window_sized": (rng.integers(0, 256, (11, 11, 3), dtype=np.uint8), rng.integers(0, 256, (11, 11, 3), dtype=np.uint8)),
    "odd_wide": (structured(13, 97), noisy(structured(13, 97), 30.0)),
}
pairs["one_pixel"][1][h // 2, w // 2, 1] ^= 0x40

with open(os.path.join(out, "cases.txt"), "w") as f:
    for name, (a, b) in pairs.items():
        pa, pb = os.path.join(out, name + "_a.png"), os.path.join(out, name + "_b.png")
        Image.fromarray(a, "RGB").save(pa)
        Image.fromarray(b, "RGB").save(pb)
        with np.errstate(divide="ignore"):
            psnr = peak_signal_noise_ratio(a, b, data_range=255)
        ssim = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=-1)
        f.write(f"{name} {pa} {pb} {'inf' if np.isinf(psnr) else repr(float(psnr))} {float(ssim)!r}\n")
