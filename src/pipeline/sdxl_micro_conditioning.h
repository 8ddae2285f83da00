// SDXL micro-conditioning (SDXL paper §2.2-2.3): the size and crop the image is said to
// come from, fed to the UNet as time_ids [1, n] (float32), each id later embedded by the
// UNet's own sinusoid and concatenated after the pooled text embedding.
//   base     (original h, original w, crop top, crop left, target h, target w)
//   refiner  (original h, original w, crop top, crop left, aesthetic score)
// diffusers' defaults: original = target = (height, width), crop (0, 0); the refiner scores
// 6.0 for the prompt and 2.5 for the negative prompt. The negative half of the CFG batch
// uses the same sizes unless negative ones are given.
#pragma once

#include <optional>
#include <utility>

#include "diffnorm/tensor.h"

namespace diffnorm {

using SizeHW = std::pair<int, int>;  // (height, width)

struct SdxlMicroConditioning {
  std::optional<SizeHW> original_size;  // default (height, width)
  SizeHW crop_top_left = {0, 0};
  std::optional<SizeHW> target_size;    // default (height, width)
  std::optional<SizeHW> negative_original_size, negative_target_size;
  std::optional<SizeHW> negative_crop_top_left;
  double aesthetic_score = 6.0;
  double negative_aesthetic_score = 2.5;
};

/// The positive and negative time ids of an image of height x width.
struct SdxlTimeIds {
  Tensor positive, negative;  // [1, 6] (base) or [1, 5] (refiner)
};
SdxlTimeIds sdxl_time_ids(const SdxlMicroConditioning& c, int height, int width, bool refiner);

}  // namespace diffnorm
