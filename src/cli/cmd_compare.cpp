// `diffnorm compare A.png B.png`: PSNR and SSIM of two images of equal size (see
// pipeline/image_quality.h; identical images print "psnr inf").
#include <fmt/format.h>

#include "cli/command.h"
#include "core/check.h"
#include "io/png.h"
#include "pipeline/image_quality.h"

namespace diffnorm::cli {
namespace {

struct CompareOptions {
  std::string a, b;
};

void run_compare(const CompareOptions& o) {
  const Tensor a = rgb_tensor(read_png(o.a)), b = rgb_tensor(read_png(o.b));
  DN_CHECK(a.shape() == b.shape(), "compare: {} is {}x{} but {} is {}x{}; the images must have the same size", o.a,
           a.size(1), a.size(0), o.b, b.size(1), b.size(0));
  const pipeline::ImageQuality q = pipeline::image_quality(a, b);
  fmt::print("psnr {:.10f} dB\nssim {:.10f}\n", q.psnr, q.ssim);
}

const RegisterCommand kCompare{
    {"compare", "PSNR and SSIM (Wang et al. 2004, as scikit-image) of two PNG images of equal size",
     [](CLI::App& sub) {
       auto o = std::make_shared<CompareOptions>();
       sub.add_option("a", o->a, "First PNG")->required();
       sub.add_option("b", o->b, "Second PNG")->required();
       return std::function<void()>([o] { run_compare(*o); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
