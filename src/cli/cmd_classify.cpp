// `diffnorm classify --model DIR --images FILE [--set NAME] [--batch N] [--output FILE]`:
// eval-mode logits of a torchvision-layout ResNet on a labelled image set (see
// pipeline/adabn_dataset.h), with the accuracy when the set has labels.
#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "cli/command.h"
#include "diffnorm/safetensors.h"
#include "pipeline/adabn.h"

namespace diffnorm::cli {
namespace {

struct ClassifyOptions {
  std::string model_dir, images, set, output;
  int64_t batch = 64;
};

void run_classify(const ClassifyOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  models::ResNet model = models::ResNet::load(o.model_dir);
  const pipeline::ImageSet set = pipeline::load_image_set(o.images, o.set);
  const Tensor logits = pipeline::classify(model, set, o.batch);
  const Tensor pred = pipeline::predictions(logits);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}: {} images, {} classes, {:.2f} s\n", set.origin, set.size(), logits.size(1), seconds);
  if (set.labels)
    fmt::print("accuracy {:.4f} ({} of {})\n", pipeline::accuracy(pred, *set.labels),
               int64_t(std::lround(pipeline::accuracy(pred, *set.labels) * double(set.size()))), set.size());
  if (!o.output.empty()) {
    save_safetensors(o.output, {{"logits", logits}, {"predictions", pred}},
                     {{"model", o.model_dir}, {"images", set.origin}});
    fmt::print("wrote {} (logits [{}, {}], predictions)\n", o.output, logits.size(0), logits.size(1));
  }
}

const RegisterCommand kClassify{
    {"classify", "Classify a labelled image set with a ResNet (torchvision layout); prints the accuracy",
     [](CLI::App& sub) {
       auto o = std::make_shared<ClassifyOptions>();
       sub.add_option("--model", o->model_dir, "Model folder: model.safetensors + config.json")->required();
       sub.add_option("--images", o->images,
                      "safetensors file with 'images' U8 [N,H,W,C] or [N,C,H,W] and optional 'labels' I64 [N]")
           ->required();
       sub.add_option("--set", o->set, "Use the tensors '<set>.images' / '<set>.labels' of the file");
       sub.add_option("--batch", o->batch, "Images per forward pass")->check(CLI::PositiveNumber);
       sub.add_option("--output,-o", o->output, "Write 'logits' F32 [N,K] and 'predictions' I64 [N] here");
       return std::function<void()>([o] { run_classify(*o); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
