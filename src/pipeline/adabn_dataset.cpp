#include "pipeline/adabn_dataset.h"

#include <vector>

#include "core/check.h"
#include "diffnorm/safetensors.h"

namespace diffnorm::pipeline {

ImageSet load_image_set(const std::string& path, const std::string& set) {
  const SafeTensorsFile file = SafeTensorsFile::open(path);
  const std::string prefix = set.empty() ? "" : set + ".";
  const std::string images_key = prefix + "images", labels_key = prefix + "labels";
  if (!file.contains(images_key)) {
    std::string sets;
    for (const TensorInfo& t : file.tensors())
      if (t.name == "images" || t.name.ends_with(".images"))
        sets += (sets.empty() ? "" : ", ") + (t.name == "images" ? std::string("(no prefix)")
                                                                 : t.name.substr(0, t.name.size() - 7));
    fail("{}: no tensor '{}'; image sets present: {}", path, images_key, sets.empty() ? "none" : sets);
  }
  ImageSet out;
  out.origin = set.empty() ? path : path + ":" + set;
  const Tensor images = file.get(images_key);
  DN_CHECK(images.dtype() == DType::U8 && images.dim() == 4,
           "{}: '{}' is {}, expected U8 [N, H, W, C] or [N, C, H, W]", path, images_key, images.describe());
  const bool first = images.size(1) == 1 || images.size(1) == 3;
  const bool last = images.size(3) == 1 || images.size(3) == 3;
  DN_CHECK(first != last, "{}: '{}' is {}: cannot tell the channel axis (expected 1 or 3 channels in exactly one of "
           "axis 1 or 3)", path, images_key, images.describe());
  out.images = first ? images.nchw_to_nhwc() : images.contiguous();
  if (file.contains(labels_key)) {
    const Tensor labels = file.get(labels_key);
    DN_CHECK(labels.dtype() == DType::I64 && labels.dim() == 1 && labels.size(0) == images.size(0),
             "{}: '{}' is {}, expected I64 [{}] (one class per image)", path, labels_key, labels.describe(),
             images.size(0));
    out.labels = labels.clone();
  }
  return out;
}

}  // namespace diffnorm::pipeline
