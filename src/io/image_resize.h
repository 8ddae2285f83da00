// Image resampling with the Lanczos-3 filter, computed as Pillow's Image.resize(size,
// LANCZOS) does (Resample.c), so that an image resized here is byte-identical to one resized
// by diffusers' VaeImageProcessor or A1111's "Just resize" (both call Pillow):
//   scale s = in / out, filter scale f = max(s, 1), support 3f
//   output pixel i takes the inputs x in [int(c - 3f + 0.5), int(c + 3f + 0.5)), c = (i + 0.5)s,
//   weights L((x - c + 0.5) / f), L(t) = sinc(t) sinc(t / 3) on [-3, 3), normalised to sum 1,
//   then rounded to 22-bit fixed point; sums start at 2^21 and are floored and clamped to 0..255.
//   Horizontal pass first (8-bit intermediate), then vertical; a pass whose size does not
//   change is skipped.
#pragma once

#include "diffnorm/tensor.h"

namespace diffnorm {

/// `image` U8 [H, W, C] resized to [height, width, C]. Error for an empty image or size.
Tensor resize_lanczos(const Tensor& image, int width, int height);

}  // namespace diffnorm
