// The settings of a generation as AUTOMATIC1111 writes them into a PNG's "parameters" text
// chunk (modules/processing.py create_infotext), so other tools (A1111's PNG Info, civitai,
// ComfyUI loaders, sd.cpp -M metadata) read them back:
//   <prompt>
//   Negative prompt: <negative prompt>            (absent when empty)
//   Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x512, ...
// A value containing ',', ':' or a newline is written as a JSON string (A1111's quote()).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace diffnorm {

struct GenerationParameters {
  std::string prompt;
  std::string negative_prompt;
  std::vector<std::pair<std::string, std::string>> settings;  // in order: ("Steps", "20"), ...

  /// The value of `key` ("" when absent).
  std::string get(const std::string& key) const;
};

/// The text of the chunk.
std::string format_generation_parameters(const GenerationParameters& p);
/// Parses a chunk written by this program or by A1111 (A1111's parse_generation_parameters
/// rules: the last line holds the settings when it has at least 3 "key: value" pairs).
GenerationParameters parse_generation_parameters(const std::string& text);

/// A1111's sampler label for a make_sampler name ("euler_ancestral" -> "Euler a",
/// "dpmpp_2m_karras" -> "DPM++ 2M" with schedule type "Karras").
std::string a1111_sampler_label(const std::string& sampler);

}  // namespace diffnorm
