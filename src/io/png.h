// PNG files through libpng: 8-bit RGB images out (with text chunks, e.g. the A1111-style
// "parameters" chunk), and any common PNG in (RGB/RGBA/gray/palette, 1-16 bit,
// interlaced or not) as 8-bit RGB.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "diffnorm/tensor.h"

namespace diffnorm {

/// Text chunks in file order: (keyword, UTF-8 value).
using PngText = std::vector<std::pair<std::string, std::string>>;

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes (R, G, B) per pixel
  PngText text;
};

/// Writes 8-bit RGB. `image` is [H, W, 3], U8, or a float dtype holding values in [0, 1]
/// (clamped, then scaled by 255 and rounded half to even, as diffusers' numpy_to_pil does;
/// NaN becomes 0). A text value that is plain ASCII goes into a tEXt chunk, any other
/// UTF-8 into an iTXt chunk. Keywords: 1-79 printable Latin-1 characters. Atomic (PATH.tmp,
/// then rename).
void write_png(const std::string& path, const Tensor& image, const PngText& text = {});

/// Reads a PNG as 8-bit RGB: gray is replicated, a palette expanded, 16-bit samples scaled
/// to 8 bits (rounded), alpha dropped (not composited). Text chunks (tEXt, zTXt, iTXt) come
/// back as UTF-8. Error naming the file for a non-PNG or a corrupt file.
RgbImage read_png(const std::string& path);

/// The image as a U8 tensor [H, W, 3] (a copy).
Tensor rgb_tensor(const RgbImage& image);

}  // namespace diffnorm
