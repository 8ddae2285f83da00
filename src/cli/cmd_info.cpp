// `diffnorm info FILE|DIR`: what a safetensors file or a diffusers folder holds.
#include <fmt/format.h>

#include "cli/command.h"
#include "io/model_summary.h"

namespace diffnorm::cli {
namespace {

struct InfoOptions {
  std::string path;
  bool all = false;
};

const RegisterCommand kInfo{
    {"info", "Describe a .safetensors file or a diffusers folder (tensors, parameters, model family)",
     [](CLI::App& sub) {
       auto options = std::make_shared<InfoOptions>();
       sub.add_option("path", options->path, "A .safetensors file or a diffusers folder")->required();
       sub.add_flag("--all", options->all, "List every tensor (name, dtype, shape) and full metadata values");
       return std::function<void()>(
           [options] { fmt::print("{}", summarize_model_path(options->path, options->all)); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
