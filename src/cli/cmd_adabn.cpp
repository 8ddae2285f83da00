// `diffnorm adabn --model DIR --target FILE [--set NAME] --mode exact|update-bn [--batch N]
// -o OUT_DIR`: re-estimate every BatchNorm's running statistics on target-domain images
// (AdaBN, see pipeline/adabn.h) and write the recalibrated model (same keys) + config.
#include <fmt/format.h>

#include <chrono>
#include <optional>

#include "cli/command.h"
#include "pipeline/adabn.h"

namespace diffnorm::cli {
namespace {

struct AdaBNOptions {
  std::string model_dir, target, set, mode, out_dir;
  std::optional<int64_t> batch;  // default: 64 for update-bn, the whole set for exact
};

void run_adabn(const AdaBNOptions& o) {
  const pipeline::AdaBNMode mode = pipeline::parse_adabn_mode(o.mode);
  models::ResNet model = models::ResNet::load(o.model_dir);
  const pipeline::ImageSet target = pipeline::load_image_set(o.target, o.set);
  const int64_t batch = o.batch.value_or(mode == pipeline::AdaBNMode::UpdateBN ? 64 : target.size());
  auto target_accuracy = [&] {
    return pipeline::accuracy(pipeline::predictions(pipeline::classify(model, target, batch)), *target.labels);
  };
  if (target.labels) fmt::print("target accuracy before AdaBN: {:.4f}\n", target_accuracy());

  const auto t0 = std::chrono::steady_clock::now();
  if (mode == pipeline::AdaBNMode::UpdateBN)
    pipeline::adabn_update_bn(model, target, batch);
  else
    pipeline::adabn_exact(model, target, batch);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("AdaBN {}: {} BatchNorm layers recalibrated on {} ({} images, batch {}) in {:.2f} s\n", o.mode,
             model.batch_norms().size(), target.origin, target.size(), batch, seconds);
  if (target.labels) fmt::print("target accuracy after AdaBN: {:.4f}\n", target_accuracy());

  pipeline::save_recalibrated(model, o.model_dir, o.out_dir,
                              {{"adabn_mode", o.mode}, {"adabn_target", target.origin},
                               {"adabn_batch", std::to_string(batch)}});
  fmt::print("wrote {}/model.safetensors and config.json\n", o.out_dir);
}

const RegisterCommand kAdaBN{
    {"adabn", "Adapt a BatchNorm network (ResNet) to a target domain by re-estimating its BN statistics",
     [](CLI::App& sub) {
       auto o = std::make_shared<AdaBNOptions>();
       sub.add_option("--model", o->model_dir, "Model folder: model.safetensors + config.json")->required();
       sub.add_option("--target", o->target, "safetensors file of target-domain images (see `classify --images`)")
           ->required();
       sub.add_option("--set", o->set, "Use the tensors '<set>.images' / '<set>.labels' of the file");
       sub.add_option("--mode", o->mode,
                      "exact: population statistics layer by layer; update-bn: torch's update_bn (train-mode "
                      "batches, equal-weight average)")
           ->required();
       sub.add_option("--batch", o->batch,
                      "Images per pass (update-bn: the averaging unit, default 64; exact: memory only, default all = one pass; "
                      "smaller: one pass per BatchNorm)")
           ->check(CLI::PositiveNumber);
       sub.add_option("--output,-o", o->out_dir, "Output folder for model.safetensors + config.json")->required();
       return std::function<void()>([o] { run_adabn(*o); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
