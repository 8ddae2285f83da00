// A labelled image set in a safetensors file, the input of `diffnorm classify` / `adabn`.
//
// Format: `images` U8 [N, H, W, C] (channels last) or [N, C, H, W] (channels first; C = 1 or
// 3, told apart by which axis has that size) and optionally `labels` I64 [N] (class
// indices). A file may hold several sets under prefixes, `<set>.images` / `<set>.labels`
// (the AdaBN fixture's data.safetensors holds `source_test.*` and `target.*`).
#pragma once

#include <optional>
#include <string>

#include "diffnorm/tensor.h"

namespace diffnorm::pipeline {

struct ImageSet {
  std::string origin;            // "data.safetensors:target" for messages
  Tensor images;                 // U8 [N, H, W, C], contiguous
  std::optional<Tensor> labels;  // I64 [N]

  int64_t size() const { return images.size(0); }
};

/// Reads `<set>.images` (+ `<set>.labels`), or `images` (+ `labels`) when `set` is empty.
/// Error naming the file, the missing tensor and the sets present, or the shape mismatch.
ImageSet load_image_set(const std::string& path, const std::string& set = "");

}  // namespace diffnorm::pipeline
