#include "io/image_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/check.h"
#include "io/jpeg.h"

namespace diffnorm {

RgbImage read_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DN_CHECK(in.good(), "{}: cannot open: {}", path, std::strerror(errno));
  unsigned char head[8] = {};
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  static constexpr unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (in.gcount() == 8 && std::memcmp(head, kPng, 8) == 0) return read_png(path);
  if (in.gcount() >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return read_jpeg(path);
  fail("{}: not a PNG or JPEG file (unrecognised first bytes)", path);
}

}  // namespace diffnorm
