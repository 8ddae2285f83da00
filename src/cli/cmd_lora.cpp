// `diffnorm lora merge BASE LORA[:WEIGHT]... -o OUT.safetensors`: bakes LoRAs into a
// checkpoint (pipeline/lora_merge.h): a single-file checkpoint keeps its original key layout
// and dtypes, a diffusers component file / folder its diffusers keys; only patched tensors change.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "nn/lora_set.h"
#include "pipeline/lora_merge.h"

namespace diffnorm::cli {
namespace {

struct MergeArgs {
  std::string base, output;
  std::vector<std::string> loras;  // FILE[:WEIGHT]
};

void merge(const MergeArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<nn::LoraChoice> choices;
  for (const std::string& arg : a.loras) choices.push_back(nn::parse_lora_choice(arg));
  const LoraMergeSummary s = merge_loras_into_checkpoint(a.base, nn::LoraSet::load(choices), a.output);
  fmt::print("merged {} LoRA(s) into {}: {} of {} tensors changed; wrote {} in {:.2f} s\n", choices.size(),
             s.weights_file, s.patched_tensors, s.tensors, a.output,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

const RegisterCommand kLora{
    {"lora", "LoRA tools: merge LoRAs into a checkpoint", [](CLI::App& sub) {
       sub.require_subcommand(1);
       auto a = std::make_shared<MergeArgs>();
       CLI::App* m = sub.add_subcommand("merge", "Bake LoRAs into a checkpoint (keeps its key layout and dtypes)");
       m->add_option("base", a->base,
                     "Single-file checkpoint, diffusers component folder, or diffusers UNet / text-encoder file")
           ->required();
       m->add_option("loras", a->loras, "LoRA files, FILE:WEIGHT (weight 1 when left out)")->required();
       m->add_option("-o,--output", a->output, "Output .safetensors")->required();
       return std::function<void()>([a] { merge(*a); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
