// Lanczos resize against Pillow's Image.resize(LANCZOS) (resize/make_resize.py): down, up,
// one axis only, mixed, and to 1x1, byte for byte; the same size is the identity.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "diffnorm/error.h"
#include "io/image_resize.h"
#include "io/png.h"

using namespace diffnorm;
namespace fs = std::filesystem;

namespace {

const fs::path kResizeDir = fs::path(DN_SOURCE_DIR) / "tests/io/resize";

Tensor fixture(const std::string& name) {
  const fs::path path = kResizeDir / name;
  EXPECT_TRUE(fs::exists(path)) << path << " missing: run tests/io/resize/make_resize.py";
  return rgb_tensor(read_png(path.string()));
}

TEST(ResizeLanczos, MatchesPillowByteForByte) {
  const Tensor source = fixture("source.png");
  for (const auto& [w, h] : {std::pair{16, 10}, {80, 49}, {37, 60}, {20, 23}, {53, 17}, {1, 1}}) {
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
    const Tensor want = fixture("lanczos_" + std::to_string(w) + "x" + std::to_string(h) + ".png");
    const Tensor got = resize_lanczos(source, w, h);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(got.to_vector(), want.to_vector());
  }
}

TEST(ResizeLanczos, SameSizeIsIdentityAndBadInputIsAnError) {
  const Tensor source = fixture("source.png");
  EXPECT_EQ(resize_lanczos(source, 37, 23).to_vector(), source.to_vector());
  EXPECT_THROW(resize_lanczos(source, 0, 5), Error);
  EXPECT_THROW(resize_lanczos(Tensor::zeros({4, 4, 3}), 2, 2), Error);  // float, not U8
}

}  // namespace
