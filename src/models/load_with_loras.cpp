#include "models/load_with_loras.h"

#include <filesystem>

#include "models/unet_ldm_layout.h"
#include "nn/component.h"

namespace diffnorm::models {

UNet2DConditionModel load_unet(const std::string& dir, const nn::LoraSet& loras) {
  nn::Component comp = nn::open_component(dir);
  const UNet2DConditionConfig config = UNet2DConditionConfig::from(comp.config);
  loras.check_components({"unet"}, false);
  const weights::LdmUNetLayout layout = ldm_unet_layout(config);
  return UNet2DConditionModel(*loras.wrap(*comp.weights, "unet", &layout), config);
}

CLIPTextModel load_text_encoder(const std::string& dir, const nn::LoraSet& loras) {
  nn::Component comp = nn::open_component(dir);
  std::filesystem::path path = std::filesystem::path(dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();  // "dir/"
  const std::string folder = path.filename().string();
  const bool second = folder == "text_encoder_2" ||
                      (folder != "text_encoder" &&
                       comp.config.get_string("_class_name", "") == "CLIPTextModelWithProjection");
  const std::string component = second ? "text_encoder_2" : "text_encoder";
  loras.check_components({component}, false);
  return CLIPTextModel(*loras.wrap(*comp.weights, component), CLIPTextConfig::from(comp.config));
}

}  // namespace diffnorm::models
