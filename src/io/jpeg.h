// JPEG files in through libjpeg(-turbo): baseline and progressive, YCbCr or grayscale, as
// 8-bit RGB (gray replicated). Used for img2img init images.
#pragma once

#include <string>

#include "io/png.h"

namespace diffnorm {

/// Reads a JPEG as 8-bit RGB (libjpeg's default integer IDCT and fancy upsampling, as
/// PIL decodes it). Error naming the file for a non-JPEG, a corrupt or truncated file,
/// CMYK/YCCK files (not converted here) and sides over 32768.
RgbImage read_jpeg(const std::string& path);

}  // namespace diffnorm
