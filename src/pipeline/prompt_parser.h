// The prompt emphasis syntax of AUTOMATIC1111's web UI (prompt_parser.
// parse_prompt_attention), reproduced exactly:
//   (text)        weight x1.1          [text]   weight /1.1
//   (text:1.3)    weight x1.3          nesting multiplies; unclosed brackets still apply
//   \( \) \[ \] \\  literal characters; a lone '\' is dropped
//   BREAK         (a whole word, with the whitespace around it) ends the 75-token chunk
// Adjacent spans of equal weight are merged. One difference: the weight number accepts
// ASCII digits only (Python's \d would also take other scripts' decimal digits).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace diffnorm {

struct PromptSpan {
  std::string text;  // UTF-8
  double weight;     // A1111 marks BREAK as text "BREAK" with weight -1

  bool is_break() const { return weight == -1.0 && text == "BREAK"; }
  bool operator==(const PromptSpan&) const = default;
};

/// Throws diffnorm::Error for invalid UTF-8 or a weight that is not a number ("(a:1.2.3)").
std::vector<PromptSpan> parse_prompt_attention(std::string_view prompt);

}  // namespace diffnorm
