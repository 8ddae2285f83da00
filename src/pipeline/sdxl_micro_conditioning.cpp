#include "pipeline/sdxl_micro_conditioning.h"

#include <vector>

namespace diffnorm {

SdxlTimeIds sdxl_time_ids(const SdxlMicroConditioning& c, int height, int width, bool refiner) {
  const SizeHW image{height, width};
  auto ids = [&](SizeHW original, SizeHW crop, SizeHW target, double score) {
    std::vector<float> v = {float(original.first), float(original.second), float(crop.first), float(crop.second)};
    if (refiner) {
      v.push_back(float(score));
    } else {
      v.push_back(float(target.first));
      v.push_back(float(target.second));
    }
    return Tensor::from_vector({1, int64_t(v.size())}, v);
  };
  const SizeHW original = c.original_size.value_or(image), target = c.target_size.value_or(image);
  SdxlTimeIds out;
  out.positive = ids(original, c.crop_top_left, target, c.aesthetic_score);
  out.negative = ids(c.negative_original_size.value_or(original), c.negative_crop_top_left.value_or(c.crop_top_left),
                     c.negative_target_size.value_or(target), c.negative_aesthetic_score);
  return out;
}

}  // namespace diffnorm
