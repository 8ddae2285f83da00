// PNG I/O: files made by an independent encoder (png/make_png.py, zlib + struct) decode to
// the pixel formulas; write -> read round trips pixels and text chunks; non-PNG and corrupt
// files are rejected with a message naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "diffnorm/error.h"
#include "io/png.h"

using namespace diffnorm;
namespace fs = std::filesystem;

namespace {

const fs::path kPngDir = fs::path(DN_SOURCE_DIR) / "tests/io/png";
constexpr int kW = 7, kH = 5;  // as in make_png.py

// make_png.py's formulas.
int v8(int x, int y, int c) { return (x * 37 + y * 11 + c * 101) % 256; }
int v16_rgb(int x, int y, int c) { return std::min(65535, v8(x, y, c) * 257 + (x * 13 + y * 29) % 257); }
int v16_gray(int x, int y) { return std::min(65535, v8(x, y, 0) * 257 + 128); }
int to8(int v16) { return int(std::lround(v16 / 257.0)); }  // nearest 8-bit value

struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("diffnorm_png_test_" + std::to_string(::getpid()));
  ScratchDir() { fs::create_directories(path); }
  ~ScratchDir() { fs::remove_all(path); }
};

RgbImage read_fixture(const std::string& name) {
  const fs::path path = kPngDir / name;
  EXPECT_TRUE(fs::exists(path)) << path << " missing: run tests/io/png/make_png.py";
  return read_png(path.string());
}

template <class Expected>
void expect_pixels(const RgbImage& image, Expected expected) {
  ASSERT_EQ(image.width, kW);
  ASSERT_EQ(image.height, kH);
  ASSERT_EQ(image.pixels.size(), std::size_t(kW * kH * 3));
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(int(image.pixels[(y * kW + x) * 3 + c]), expected(x, y, c)) << "x=" << x << " y=" << y << " c=" << c;
}

std::string error_of(const std::string& name) {
  try {
    read_fixture(name);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PngRead, EveryColorTypeAndDepthDecodesToRgb8) {
  expect_pixels(read_fixture("rgb8.png"), v8);
  expect_pixels(read_fixture("rgba8.png"), v8);  // alpha dropped
  expect_pixels(read_fixture("gray8.png"), [](int x, int y, int) { return v8(x, y, 0); });
  expect_pixels(read_fixture("gray_alpha8.png"), [](int x, int y, int) { return v8(x, y, 0); });
  expect_pixels(read_fixture("rgb16.png"), [](int x, int y, int c) { return to8(v16_rgb(x, y, c)); });
  expect_pixels(read_fixture("gray16.png"), [](int x, int y, int) { return to8(v16_gray(x, y)); });
}

TEST(PngRead, TextChunksComeBackAsUtf8) {
  const RgbImage image = read_fixture("rgb8.png");
  const PngText expected = {{"parameters", "a photo of a cat\nSteps: 20, Sampler: Euler a, Seed: 1234"},
                            {"Comment", "caf\u00e9 \u732b"}};
  EXPECT_EQ(image.text, expected);
  // Latin-1 tEXt placed after the image data.
  EXPECT_EQ(read_fixture("text_after_image.png").text, (PngText{{"Author", "Jos\u00e9"}}));
}

TEST(PngRead, NonPngAndCorruptFilesAreRejected) {
  const std::string path = (kPngDir / "not_a_png.png").string();
  EXPECT_EQ(error_of("not_a_png.png"), path + ": not a PNG file (no PNG signature)");
  for (const char* name : {"truncated.png", "bad_crc.png"}) {
    const std::string message = error_of(name);
    EXPECT_EQ(message.rfind((kPngDir / name).string() + ": corrupt PNG: ", 0), 0u) << name << ": " << message;
  }
  EXPECT_THROW(read_png((kPngDir / "missing.png").string()), Error);
}

TEST(PngWrite, U8RoundTripWithTextChunks) {
  ScratchDir dir;
  std::mt19937 rng(3);
  Tensor image = Tensor::empty({9, 13, 3}, DType::U8);
  auto* p = image.data<uint8_t>();
  for (int64_t i = 0; i < image.numel(); ++i) p[i] = uint8_t(rng());
  const PngText text = {{"parameters", "a cat\nNegative prompt: blurry\nSteps: 30, CFG scale: 7"},
                        {"prompt-utf8", "猫 ü"}};
  const std::string path = (dir.path / "out.png").string();
  write_png(path, image, text);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const RgbImage back = read_png(path);
  EXPECT_EQ(back.width, 13);
  EXPECT_EQ(back.height, 9);
  EXPECT_EQ(back.pixels, std::vector<uint8_t>(p, p + image.numel()));
  EXPECT_EQ(back.text, text);
  const Tensor t = rgb_tensor(back);
  EXPECT_EQ(t.shape(), (Shape{9, 13, 3}));
  EXPECT_EQ(t.item(5), double(p[5]));
}

TEST(PngWrite, FloatImagesAreClampedAndRoundedHalfToEven) {
  ScratchDir dir;
  // Per pixel: value -> expected byte. 0.5 * 255 = 127.5 rounds to 128 (even).
  const std::vector<std::pair<float, int>> cases = {
      {0.0f, 0}, {1.0f, 255}, {-0.3f, 0}, {1.7f, 255}, {0.5f, 128}, {std::nanf(""), 0}, {0.2f, 51}, {0.999f, 255}};
  std::vector<float> values;
  for (const auto& [v, expected] : cases) values.insert(values.end(), {v, v, v});
  const Tensor image = Tensor::from_vector({1, int64_t(cases.size()), 3}, values);
  const std::string path = (dir.path / "float.png").string();
  write_png(path, image);
  const RgbImage back = read_png(path);
  for (std::size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(int(back.pixels[i * 3]), cases[i].second) << cases[i].first;
  // A non-contiguous bf16 image [H, W, 3] permuted from [3, H, W] writes the same bytes.
  write_png(path, Tensor::from_vector({3, 1, int64_t(cases.size())}, [&] {
                    std::vector<float> planar;
                    for (int c = 0; c < 3; ++c)
                      for (const auto& [v, e] : cases) planar.push_back(v);
                    return planar;
                  }()).to(DType::BF16).permute({1, 2, 0}));
  EXPECT_EQ(read_png(path).pixels, back.pixels);
}

TEST(PngWrite, BadArgumentsAreErrors) {
  ScratchDir dir;
  const std::string path = (dir.path / "bad.png").string();
  EXPECT_THROW(write_png(path, Tensor::zeros({4, 4})), Error);
  EXPECT_THROW(write_png(path, Tensor::zeros({4, 4, 4})), Error);
  EXPECT_THROW(write_png(path, Tensor::zeros({0, 4, 3})), Error);
  EXPECT_THROW(write_png(path, Tensor::zeros({2, 2, 3}, DType::I32)), Error);
  EXPECT_THROW(write_png(path, Tensor::zeros({2, 2, 3}), {{"", "x"}}), Error);
  EXPECT_THROW(write_png(path, Tensor::zeros({2, 2, 3}), {{"key", "bad \xff utf8"}}), Error);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

}  // namespace
