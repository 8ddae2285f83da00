#include "models/load_with_loras.h"

#include "models/unet_ldm_layout.h"
#include "nn/component.h"

namespace diffnorm::models {

UNet2DConditionModel load_unet(const std::string& dir, const nn::LoraSet& loras) {
  nn::Component comp = nn::open_component(dir);
  const UNet2DConditionConfig config = UNet2DConditionConfig::from(comp.config);
  const weights::LdmUNetLayout layout = ldm_unet_layout(config);
  return UNet2DConditionModel(*loras.wrap(*comp.weights, "unet", &layout), config);
}

CLIPTextModel load_text_encoder(const std::string& dir, const nn::LoraSet& loras) {
  nn::Component comp = nn::open_component(dir);
  const std::string component = nn::lora_component_of(dir, comp.config);
  return CLIPTextModel(*loras.wrap(*comp.weights, component), CLIPTextConfig::from(comp.config));
}

}  // namespace diffnorm::models
