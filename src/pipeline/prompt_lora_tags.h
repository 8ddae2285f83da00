// A1111's extra-network syntax for LoRAs in a prompt: "<lora:NAME>" or "<lora:NAME:WEIGHT>"
// ("lyco" is accepted as an alias, as A1111 does). The tags are removed from the text before
// tokenizing (only the tag itself: the text around it is kept as it is, like A1111's
// re.sub), and NAME names the file NAME.safetensors in a LoRA folder.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace diffnorm {

struct PromptLoraTag {
  std::string name;
  double weight = 1.0;
};

struct PromptWithoutLoraTags {
  std::string text;                 // the prompt without the tags
  std::vector<PromptLoraTag> tags;  // in order of appearance
};

/// Error naming the tag when its weight is not a number, NAME is empty, or it has separate
/// text-encoder / UNet weights ("<lora:NAME:0.8:0.5>", not supported).
PromptWithoutLoraTags extract_lora_tags(std::string_view prompt);

}  // namespace diffnorm
