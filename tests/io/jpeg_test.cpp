// JPEG input: files written by Pillow (jpeg/make_jpeg.py) decode to exactly Pillow's own
// decoding of them (4:2:0 and 4:4:4 progressive colour, grayscale); truncated, damaged,
// CMYK and non-JPEG files are errors naming the file; read_image picks the format by content.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "diffnorm/error.h"
#include "io/image_file.h"
#include "io/jpeg.h"
#include "io/png.h"

using namespace diffnorm;
namespace fs = std::filesystem;

namespace {

const fs::path kJpegDir = fs::path(DN_SOURCE_DIR) / "tests/io/jpeg";

std::string fixture(const std::string& name) {
  const fs::path path = kJpegDir / name;
  EXPECT_TRUE(fs::exists(path)) << path << " missing: run tests/io/jpeg/make_jpeg.py";
  return path.string();
}

// The error message of reading `name`, which must fail.
std::string error_of(const std::string& name) {
  try {
    read_jpeg(fixture(name));
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << name << " was accepted";
  return "";
}

TEST(Jpeg, DecodesAsPillowDoes) {
  for (const std::string name : {"rgb_420", "rgb_444_progressive", "gray"}) {
    SCOPED_TRACE(name);
    const RgbImage got = read_jpeg(fixture(name + ".jpg"));
    const RgbImage want = read_png(fixture(name + ".decoded.png"));
    EXPECT_EQ(got.width, 13);
    EXPECT_EQ(got.height, 9);
    EXPECT_EQ(got.pixels, want.pixels);
  }
}

TEST(Jpeg, RejectsBadFilesNamingThem) {
  for (const std::string name : {"truncated.jpg", "damaged.jpg", "cmyk.jpg", "not_a_jpeg.jpg"}) {
    SCOPED_TRACE(name);
    const std::string message = error_of(name);
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
  EXPECT_NE(error_of("cmyk.jpg").find("CMYK"), std::string::npos);
  EXPECT_NE(error_of("truncated.jpg").find("corrupt JPEG"), std::string::npos);
  EXPECT_NE(error_of("not_a_jpeg.jpg").find("not a JPEG"), std::string::npos);
  EXPECT_THROW(read_jpeg((kJpegDir / "missing.jpg").string()), Error);
}

TEST(ImageFile, PicksTheFormatByContent) {
  EXPECT_EQ(read_image(fixture("rgb_420.jpg")).pixels, read_png(fixture("rgb_420.decoded.png")).pixels);
  EXPECT_EQ(read_image(fixture("gray.decoded.png")).pixels, read_png(fixture("gray.decoded.png")).pixels);
  try {
    read_image(fixture("not_a_jpeg.jpg"));
    FAIL() << "a GIF header was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a PNG or JPEG"), std::string::npos) << e.what();
  }
}

}  // namespace
