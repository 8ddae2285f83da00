// Full-reference image quality of two 8-bit images of equal size (H, W, C).
//
// PSNR = 10·log10(255² / MSE), MSE over every sample of every channel (inf when equal).
// SSIM (Wang, Bovik, Sheikh, Simoncelli 2004), as scikit-image 0.19's
// structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range=255), per channel then averaged:
//   μx = G∗x, μy = G∗y, σx² = G∗x² − μx², σy² = G∗y² − μy², σxy = G∗xy − μxμy
//   S = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
//   C1 = (0.01·255)², C2 = (0.03·255)²
// G: separable normalised Gaussian, σ = 1.5, radius int(3.5σ + 0.5) = 5 (11 taps), and
// SSIM is the mean of S over the pixels at least 5 from every border (skimage crops
// (win − 1)/2 before averaging, so its 'reflect' border mode never reaches the result).
// Computed in double.
#pragma once

#include "diffnorm/tensor.h"

namespace diffnorm::pipeline {

struct ImageQuality {
  double psnr = 0;  // dB; +inf for identical images
  double ssim = 0;
};

/// a, b: U8 [H, W, C], equal shapes (Error naming both otherwise).
double psnr(const Tensor& a, const Tensor& b);
/// a, b: U8 [H, W, C], equal shapes, H and W >= 11 (skimage's window).
double ssim(const Tensor& a, const Tensor& b);
ImageQuality image_quality(const Tensor& a, const Tensor& b);

}  // namespace diffnorm::pipeline
