// An image file in whichever format it is (PNG or JPEG), chosen by its first bytes, not its
// name: what the user points -i at.
#pragma once

#include <string>

#include "io/png.h"

namespace diffnorm {

/// Reads a PNG or JPEG file as 8-bit RGB (io/png.h, io/jpeg.h). Error naming the file when
/// it is neither, or when it does not decode.
RgbImage read_image(const std::string& path);

}  // namespace diffnorm
