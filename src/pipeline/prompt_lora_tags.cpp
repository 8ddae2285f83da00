#include "pipeline/prompt_lora_tags.h"

#include <cmath>
#include <cstdlib>

#include "core/check.h"

namespace diffnorm {

PromptWithoutLoraTags extract_lora_tags(std::string_view prompt) {
  PromptWithoutLoraTags out;
  std::size_t at = 0;
  while (at < prompt.size()) {
    std::size_t open = std::string_view::npos;
    for (std::string_view kind : {"<lora:", "<lyco:"}) open = std::min(open, prompt.find(kind, at));
    const std::size_t close = open == std::string_view::npos ? open : prompt.find('>', open);
    if (close == std::string_view::npos) {
      out.text += prompt.substr(at);
      break;
    }
    out.text += prompt.substr(at, open - at);
    const std::string tag(prompt.substr(open, close + 1 - open));
    const std::string args = tag.substr(6, tag.size() - 7);  // NAME[:WEIGHT]
    const std::size_t colon = args.find(':');
    PromptLoraTag t{args.substr(0, colon), 1.0};
    DN_CHECK(!t.name.empty(), "prompt tag '{}' names no LoRA (expected <lora:NAME:WEIGHT>)", tag);
    if (colon != std::string::npos) {
      const std::string w = args.substr(colon + 1);
      DN_CHECK(w.find(':') == std::string::npos,
               "prompt tag '{}': separate text-encoder and UNet weights are not supported (use <lora:NAME:WEIGHT>)",
               tag);
      char* end = nullptr;
      t.weight = std::strtod(w.c_str(), &end);
      DN_CHECK(!w.empty() && end == w.c_str() + w.size() && std::isfinite(t.weight),
               "prompt tag '{}': the weight '{}' is not a number (expected <lora:NAME:WEIGHT>)", tag, w);
    }
    out.tags.push_back(std::move(t));
    at = close + 1;
  }
  return out;
}

}  // namespace diffnorm
