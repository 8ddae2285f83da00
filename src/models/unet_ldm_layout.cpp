#include "models/unet_ldm_layout.h"

namespace diffnorm::models {

weights::LdmUNetLayout ldm_unet_layout(const UNet2DConditionConfig& c) {
  weights::LdmUNetLayout l;
  l.levels = int(c.levels());
  l.layers_per_block = int(c.layers_per_block);
  for (const std::string& type : c.down_block_types) l.attention.push_back(type.starts_with("CrossAttn"));
  l.label_emb = c.addition_embed_type.has_value();
  return l;
}

}  // namespace diffnorm::models
