#include "io/jpeg.h"

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include <jpeglib.h>
#include <jerror.h>

#include "core/check.h"

namespace diffnorm {

namespace {

constexpr JDIMENSION kMaxSide = 1u << 15;  // as for PNG: a tiny header must not ask for terabytes

// libjpeg reports errors through error_exit, which must not return: the handler keeps the
// message and longjmps back to decode_jpeg (which holds no objects with destructors).
// Warnings about damaged entropy-coded data (libjpeg then fills in gray and goes on) are
// kept as errors too, so that a damaged file never silently becomes a different picture.
struct JpegErrorState {
  jpeg_error_mgr manager;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
  bool damaged = false;
};

void on_jpeg_error(j_common_ptr info) {
  auto* state = reinterpret_cast<JpegErrorState*>(info->err);
  info->err->format_message(info, state->message);
  std::longjmp(state->jump, 1);
}

void on_jpeg_message(j_common_ptr info, int level) {
  auto* state = reinterpret_cast<JpegErrorState*>(info->err);
  const int code = info->err->msg_code;
  const bool damage = code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
                      code == JWRN_MUST_RESYNC;
  if (level < 0 && damage && !state->damaged) {  // the first such warning says the most
    state->damaged = true;
    info->err->format_message(info, state->message);
  }
}

enum class DecodeStatus { Ok, LibraryError, Cmyk, TooLarge, Damaged };

// Decodes into `image` (pixels resized here, through a pointer owned by the caller).
DecodeStatus decode_jpeg(std::FILE* file, RgbImage* image, JpegErrorState* error) {
  jpeg_decompress_struct info;
  info.err = jpeg_std_error(&error->manager);
  error->manager.error_exit = on_jpeg_error;
  error->manager.emit_message = on_jpeg_message;
  if (setjmp(error->jump)) {
    jpeg_destroy_decompress(&info);
    return DecodeStatus::LibraryError;
  }
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, file);
  jpeg_read_header(&info, TRUE);
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&info);
    return DecodeStatus::Cmyk;
  }
  if (info.image_width > kMaxSide || info.image_height > kMaxSide) {
    jpeg_destroy_decompress(&info);
    return DecodeStatus::TooLarge;
  }
  info.out_color_space = JCS_RGB;  // gray is replicated by libjpeg
  jpeg_start_decompress(&info);
  image->width = int(info.output_width);
  image->height = int(info.output_height);
  image->pixels.resize(std::size_t(info.output_width) * info.output_height * 3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image->pixels.data() + std::size_t(info.output_scanline) * info.output_width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return error->damaged ? DecodeStatus::Damaged : DecodeStatus::Ok;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

RgbImage read_jpeg(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  DN_CHECK(file != nullptr, "{}: cannot open: {}", path, std::strerror(errno));
  unsigned char signature[3] = {};
  DN_CHECK(std::fread(signature, 1, 3, file.get()) == 3 && signature[0] == 0xFF && signature[1] == 0xD8 &&
               signature[2] == 0xFF,
           "{}: not a JPEG file (no FF D8 FF start of image)", path);
  std::rewind(file.get());

  RgbImage image;
  auto error = std::make_unique<JpegErrorState>();
  switch (decode_jpeg(file.get(), &image, error.get())) {
    case DecodeStatus::Ok: return image;
    case DecodeStatus::LibraryError: fail("{}: corrupt JPEG: {}", path, error->message);
    case DecodeStatus::Cmyk: fail("{}: CMYK JPEG files are not supported; save the image as RGB", path);
    case DecodeStatus::TooLarge: fail("{}: JPEG larger than {} pixels per side", path, kMaxSide);
    case DecodeStatus::Damaged: fail("{}: corrupt JPEG: {}", path, error->message);
  }
  fail("{}: unreadable JPEG", path);
}

}  // namespace diffnorm
