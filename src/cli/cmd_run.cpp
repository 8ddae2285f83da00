// `diffnorm run MODEL --model DIR --inputs FILE --output FILE [--dump-activations]`: one
// network of a diffusers component folder on named tensors, as the reference fixtures name
// them (image-like tensors NCHW):
//   text-encoder  in.input_ids -> out.last_hidden_state, out.hidden_states.<i>,
//                 out.penultimate_hidden_state, out.penultimate_final_ln, out.pooler_output,
//                 out.pooled_index, out.text_embeds (with projection)
//   unet          in.sample, in.timestep, in.encoder_hidden_states [, in.text_embeds, in.time_ids]
//                 -> out.sample
//   vae-encode    in.image -> out.moments, out.latent_mean, out.latent_logvar, out.latent_std
//   vae-decode    in.z -> out.decoded
// With --dump-activations the intermediate outputs are written too, as act.<module path>.
// With --lora FILE:WEIGHT (repeatable; unet and text-encoder) the LoRAs are merged into the
// network's weights first, so a LoRA's effect can be compared tensor by tensor.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "core/check.h"
#include "diffnorm/safetensors.h"
#include "models/load_with_loras.h"
#include "models/model_io.h"
#include "nn/component.h"
#include "nn/lora_set.h"

namespace diffnorm::cli {
namespace {

struct RunArgs {
  std::string model, dir, inputs, output;
  std::vector<std::string> loras;  // FILE:WEIGHT
  bool dump_activations = false;
};

models::NamedTensors read_inputs(const std::string& path) {
  const SafeTensorsFile f = SafeTensorsFile::open(path);
  models::NamedTensors in;
  for (const TensorInfo& t : f.tensors()) in[t.name] = f.get(t.name);
  return in;
}

// The LoRAs of --lora, checked to adapt the network in `dir` (a LoRA without any patch for
// it is an error; its patches for other networks are left alone).
nn::LoraSet read_loras(const RunArgs& a) {
  DN_CHECK(a.loras.empty() || a.model == "unet" || a.model == "text-encoder",
           "--lora adapts the unet and text-encoder, not the {}", a.model);
  std::vector<nn::LoraChoice> choices;
  for (const std::string& arg : a.loras) choices.push_back(nn::parse_lora_choice(arg));
  nn::LoraSet loras = nn::LoraSet::load(choices);
  if (loras.empty()) return loras;
  loras.check_components({nn::lora_component_of(a.dir, nn::open_component_config(a.dir))}, false);
  return loras;
}

void run(const RunArgs& a) {
  using clock = std::chrono::steady_clock;
  const models::NamedTensors in = read_inputs(a.inputs);
  const nn::LoraSet loras = read_loras(a);
  models::NamedTensors acts;
  const models::ActivationCapture capture = models::ActivationCapture::into(acts);
  const models::ActivationCapture* cap = a.dump_activations ? &capture : nullptr;

  const auto t0 = clock::now();
  models::NamedTensors out;
  auto t1 = t0;
  if (a.model == "text-encoder") {
    const auto m = models::load_text_encoder(a.dir, loras);
    t1 = clock::now();
    out = models::run_text_encoder(m, in, cap);
  } else if (a.model == "unet") {
    const auto m = models::load_unet(a.dir, loras);
    t1 = clock::now();
    out = models::run_unet(m, in, cap);
  } else {
    const auto m = models::AutoencoderKL::load(a.dir);
    t1 = clock::now();
    out = a.model == "vae-encode" ? models::run_vae_encode(m, in, cap) : models::run_vae_decode(m, in, cap);
  }
  const auto t2 = clock::now();

  std::vector<std::pair<std::string, Tensor>> tensors(out.begin(), out.end());
  tensors.insert(tensors.end(), acts.begin(), acts.end());
  std::map<std::string, std::string> metadata = {{"model", a.model}, {"model_dir", a.dir}};
  if (!a.loras.empty()) metadata["loras"] = fmt::format("{}", fmt::join(a.loras, " "));
  save_safetensors(a.output, tensors, metadata);
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  fmt::print("{}: loaded in {:.1f} ms, ran in {:.1f} ms; wrote {} outputs{} to {}\n", a.model, ms(t1 - t0),
             ms(t2 - t1), out.size(), a.dump_activations ? fmt::format(" and {} activations", acts.size()) : "",
             a.output);
}

const RegisterCommand kRun{
    {"run", "Run one network (unet, text-encoder, vae-encode, vae-decode) of a diffusers folder on named tensors",
     [](CLI::App& sub) {
       auto a = std::make_shared<RunArgs>();
       sub.add_option("model", a->model, "Which network: unet, text-encoder, vae-encode, vae-decode")
           ->required()
           ->check(CLI::IsMember({"unet", "text-encoder", "vae-encode", "vae-decode"}));
       sub.add_option("--model", a->dir, "Component folder: config.json + (diffusion_pytorch_model|model).safetensors")
           ->required()
           ->check(CLI::ExistingDirectory);
       sub.add_option("--inputs", a->inputs, "safetensors file with the in.* tensors (NCHW images)")
           ->required()
           ->check(CLI::ExistingFile);
       sub.add_option("--output", a->output, "safetensors file to write the out.* (and act.*) tensors to")->required();
       sub.add_option("--lora", a->loras, "LoRA file merged into the weights, FILE:WEIGHT (repeatable)");
       sub.add_flag("--dump-activations", a->dump_activations, "Also write every intermediate output as act.<module path>");
       return std::function<void()>([a] { run(*a); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
