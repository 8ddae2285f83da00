#include "pipeline/aspect_buckets.h"

#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "core/check.h"

namespace diffnorm {

namespace {

// App. I lists height x width pairs from 512x2048 to 2048x512; read as width x height here,
// which gives the same set (it holds both orientations).
constexpr ImageSize kBuckets[] = {
    {512, 2048},  {512, 1984},  {512, 1920},  {512, 1856},  {576, 1792},  {576, 1728},  {576, 1664},  {640, 1600},
    {640, 1536},  {704, 1472},  {704, 1408},  {704, 1344},  {768, 1344},  {768, 1280},  {832, 1216},  {832, 1152},
    {896, 1152},  {896, 1088},  {960, 1088},  {960, 1024},  {1024, 1024}, {1024, 960},  {1088, 960},  {1088, 896},
    {1152, 896},  {1152, 832},  {1216, 832},  {1280, 768},  {1344, 768},  {1408, 704},  {1472, 704},  {1536, 640},
    {1600, 640},  {1664, 576},  {1728, 576},  {1792, 576},  {1856, 512},  {1920, 512},  {1984, 512},  {2048, 512}};

bool parse_number(std::string_view s, double& out) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out) && out > 0;
}

}  // namespace

std::span<const ImageSize> sdxl_buckets() { return kBuckets; }

double parse_aspect(std::string_view text) {
  double a = 0, w = 0, h = 0;
  const std::size_t colon = text.find(':');
  const bool ok = colon == std::string_view::npos
                      ? parse_number(text, a)
                      : parse_number(text.substr(0, colon), w) && parse_number(text.substr(colon + 1), h);
  DN_CHECK(ok, "bad aspect ratio '{}': expected W:H with positive numbers (16:9, 3:2, 1:1) or a ratio such as 1.5",
           std::string(text));
  return colon == std::string_view::npos ? a : w / h;
}

ImageSize nearest_sdxl_bucket(double aspect) {
  DN_CHECK(aspect > 0 && std::isfinite(aspect), "aspect ratio must be positive, got {}", aspect);
  const ImageSize* best = &kBuckets[0];
  double best_d = INFINITY;
  for (const ImageSize& b : kBuckets) {
    const double d = std::abs(std::log(double(b.width) / b.height) - std::log(aspect));
    if (d < best_d) best_d = d, best = &b;
  }
  return *best;
}

}  // namespace diffnorm
