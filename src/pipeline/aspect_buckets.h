// SDXL's multi-aspect training resolutions (SDXL paper §2.3, App. I): 40 sizes of about
// 1024² pixels with sides multiples of 64, aspect (width / height) from 0.25 to 4.
// `--aspect 16:9` picks the bucket whose aspect is nearest in log-ratio (1344x768).
#pragma once

#include <span>
#include <string_view>

namespace diffnorm {

struct ImageSize {
  int width = 0;
  int height = 0;
  bool operator==(const ImageSize&) const = default;
};

/// The 40 buckets, width x height, in increasing aspect.
std::span<const ImageSize> sdxl_buckets();
/// "16:9", "3:2", "1:1" or a number ("1.5"); Error with the accepted forms otherwise.
double parse_aspect(std::string_view text);
/// The bucket nearest to `aspect` (= width / height > 0) in |log(w/h) - log(aspect)|.
ImageSize nearest_sdxl_bucket(double aspect);

}  // namespace diffnorm
