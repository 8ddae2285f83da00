#include "io/png.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/check.h"
#include "io/atomic_file.h"
#include "io/utf8.h"

namespace diffnorm {

namespace {

// Largest width or height accepted (libpng's own default limit is 1,000,000, which would let
// a 30-byte file request terabytes).
constexpr uint32_t kMaxSide = 1u << 15;

// libpng reports errors by longjmp; the handler keeps the message for the C++ side, which
// turns it into an Error after setjmp returns. Functions that call setjmp hold no automatic
// objects with destructors, so the jump skips nothing.
struct PngErrorState {
  char message[512] = {};
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngErrorState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // warnings (e.g. bad sRGB profiles) are not fatal

// Latin-1 (tEXt / zTXt) to UTF-8.
std::string latin1_to_utf8(const char* text, std::size_t length) {
  std::string out;
  for (std::size_t i = 0; i < length; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += char(c);
    } else {
      out += char(0xc0 | (c >> 6));
      out += char(0x80 | (c & 0x3f));
    }
  }
  return out;
}

bool is_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// --- writing ------------------------------------------------------------------------

struct WriteJob {
  std::FILE* file;
  uint32_t width, height;
  const uint8_t* pixels;
  png_text* text;
  int text_count;
};

bool encode_png(const WriteJob& job, PngErrorState& error) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  if (png == nullptr) {
    std::snprintf(error.message, sizeof(error.message), "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, &info);
    std::snprintf(error.message, sizeof(error.message), "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, job.file);
  png_set_IHDR(png, info, job.width, job.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (job.text_count > 0) png_set_text(png, info, job.text, job.text_count);
  png_write_info(png, info);
  for (uint32_t y = 0; y < job.height; ++y) png_write_row(png, job.pixels + std::size_t(y) * job.width * 3);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

std::vector<uint8_t> to_rgb8(const std::string& path, const Tensor& image) {
  DN_CHECK(image.dim() == 3 && image.size(2) == 3, "{}: an image to write must be [H, W, 3], got {}", path,
           image.describe());
  std::vector<uint8_t> out(std::size_t(image.numel()));
  if (image.dtype() == DType::U8) {
    const Tensor c = image.contiguous();
    std::memcpy(out.data(), c.raw(), out.size());
    return out;
  }
  DN_CHECK(image.dtype() == DType::F32 || image.dtype() == DType::F16 || image.dtype() == DType::BF16,
           "{}: an image to write must be U8 or a float dtype, got {}", path, image.describe());
  const std::vector<float> values = image.to_vector();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float v = std::isnan(values[i]) ? 0.0f : std::clamp(values[i], 0.0f, 1.0f);
    out[i] = uint8_t(std::nearbyint(v * 255.0f));  // default rounding mode: half to even
  }
  return out;
}

// --- reading ------------------------------------------------------------------------

struct ReadResult {
  std::vector<uint8_t>* pixels;
  std::vector<png_bytep>* rows;
  PngText* text;
  uint32_t width = 0, height = 0;
};

bool decode_png(std::FILE* file, ReadResult& result, PngErrorState& error) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  if (png == nullptr) {
    std::snprintf(error.message, sizeof(error.message), "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(error.message, sizeof(error.message), "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_user_limits(png, kMaxSide, kMaxSide);
  png_init_io(png, file);
  png_read_info(png, info);

  const png_byte color = png_get_color_type(png, info);
  const png_byte depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_scale_16(png);  // rounds: (v * 255 + 32895) >> 16
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  result.width = png_get_image_width(png, info);
  result.height = png_get_image_height(png, info);
  if (png_get_rowbytes(png, info) != std::size_t(result.width) * 3) {
    std::snprintf(error.message, sizeof(error.message), "unexpected row size after conversion to 8-bit RGB");
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  result.pixels->resize(std::size_t(result.width) * result.height * 3);
  result.rows->resize(result.height);
  for (uint32_t y = 0; y < result.height; ++y)
    (*result.rows)[y] = result.pixels->data() + std::size_t(y) * result.width * 3;
  png_read_image(png, result.rows->data());
  png_read_end(png, info);  // text chunks may follow the image data

  png_textp text = nullptr;
  const int count = png_get_text(png, info, &text, nullptr);
  for (int i = 0; i < count; ++i) {
    const bool utf8 = text[i].compression == PNG_ITXT_COMPRESSION_NONE || text[i].compression == PNG_ITXT_COMPRESSION_zTXt;
    const std::size_t length = utf8 ? text[i].itxt_length : text[i].text_length;
    result.text->emplace_back(latin1_to_utf8(text[i].key, std::strlen(text[i].key)),
                              utf8 ? std::string(text[i].text, length) : latin1_to_utf8(text[i].text, length));
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

void write_png(const std::string& path, const Tensor& image, const PngText& text) {
  const std::vector<uint8_t> pixels = to_rgb8(path, image);
  const int64_t height = image.size(0), width = image.size(1);
  DN_CHECK(width > 0 && height > 0 && width <= kMaxSide && height <= kMaxSide,
           "{}: image size {}x{} is outside 1..{} per side", path, width, height, kMaxSide);

  std::vector<png_text> chunks(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto& [key, value] = text[i];
    const bool key_ok = !key.empty() && key.size() <= 79 && is_ascii(key) &&
                        std::all_of(key.begin(), key.end(), [](char c) { return c >= 32 && c < 127; }) &&
                        key.front() != ' ' && key.back() != ' ';
    DN_CHECK(key_ok, "{}: PNG text keyword '{}' must be 1-79 printable ASCII characters without leading or trailing "
             "spaces", path, key);
    DN_CHECK(!first_invalid_utf8(value), "{}: PNG text '{}' is not valid UTF-8", path, key);
    png_text& chunk = chunks[i];
    chunk.key = const_cast<char*>(key.c_str());
    chunk.text = const_cast<char*>(value.c_str());
    if (is_ascii(value)) {
      chunk.compression = PNG_TEXT_COMPRESSION_NONE;  // tEXt
      chunk.text_length = value.size();
    } else {
      chunk.compression = PNG_ITXT_COMPRESSION_NONE;  // iTXt, UTF-8
      chunk.itxt_length = value.size();
      chunk.lang = nullptr;
      chunk.lang_key = nullptr;
    }
  }

  AtomicFile file(path);
  PngErrorState error;
  const WriteJob job{file.stream(), uint32_t(width), uint32_t(height), pixels.data(), chunks.data(),
                     int(chunks.size())};
  DN_CHECK(encode_png(job, error), "{}: writing PNG failed: {}", path, error.message);
  file.commit();
}

RgbImage read_png(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  DN_CHECK(file != nullptr, "{}: cannot open: {}", path, std::strerror(errno));
  png_byte signature[8] = {};
  const std::size_t got = std::fread(signature, 1, 8, file.get());
  DN_CHECK(got == 8 && png_sig_cmp(signature, 0, 8) == 0, "{}: not a PNG file (no PNG signature)", path);
  std::rewind(file.get());

  RgbImage image;
  std::vector<png_bytep> rows;
  ReadResult result{&image.pixels, &rows, &image.text};
  PngErrorState error;
  DN_CHECK(decode_png(file.get(), result, error), "{}: corrupt PNG: {}", path, error.message);
  image.width = int(result.width);
  image.height = int(result.height);
  return image;
}

Tensor rgb_tensor(const RgbImage& image) {
  Tensor t = Tensor::empty({image.height, image.width, 3}, DType::U8);
  std::memcpy(t.raw(), image.pixels.data(), image.pixels.size());
  return t;
}

}  // namespace diffnorm
