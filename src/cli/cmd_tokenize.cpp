// `diffnorm tokenize PROMPT`: the CLIP token ids of a prompt as the pipelines feed the
// text encoder (77 ids: BOS, tokens, EOS, padding), as JSON. --tokens adds the token
// strings; --chunks shows A1111's weighted 75-token chunks (emphasis syntax, BREAK).
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "cli/command.h"
#include "pipeline/clip_tokenizer.h"
#include "pipeline/prompt_chunks.h"

namespace diffnorm::cli {
namespace {

struct TokenizeOptions {
  std::string prompt;
  std::string tokenizer_dir;
  std::optional<int> pad_id;
  int max_length = ClipTokenizer::kContextLength;
  bool tokens = false;
  bool chunks = false;
};

nlohmann::json token_strings(const ClipTokenizer& tokenizer, const std::vector<int>& ids) {
  nlohmann::json out = nlohmann::json::array();
  for (int id : ids) out.push_back(tokenizer.token(id));
  return out;
}

void run_tokenize(const TokenizeOptions& o) {
  const ClipTokenizer tokenizer =
      o.tokenizer_dir.empty() ? ClipTokenizer() : ClipTokenizer::from_directory(o.tokenizer_dir);
  const int pad_id = o.pad_id.value_or(tokenizer.pad_id());
  nlohmann::json out;
  if (o.chunks) {
    PromptChunkOptions chunking;
    chunking.pad_id = pad_id;
    out["chunks"] = nlohmann::json::array();
    for (const PromptChunk& chunk : chunk_prompt(tokenizer, o.prompt, chunking)) {
      nlohmann::json c{{"ids", chunk.ids}, {"weights", chunk.weights}};
      if (o.tokens) c["tokens"] = token_strings(tokenizer, chunk.ids);
      out["chunks"].push_back(std::move(c));
    }
  } else {
    const std::vector<int> ids = tokenizer.encode_padded(o.prompt, o.max_length, pad_id);
    out["ids"] = ids;
    out["eos_index"] = eos_index(ids, tokenizer.eos_id());
    out["n_tokens"] = tokenizer.encode(o.prompt).size();
    if (o.tokens) out["tokens"] = token_strings(tokenizer, ids);
  }
  fmt::print("{}\n", out.dump());
}

const RegisterCommand kTokenize{
    {"tokenize", "Print the CLIP token ids of a prompt as JSON", [](CLI::App& sub) {
       auto o = std::make_shared<TokenizeOptions>();
       sub.add_option("prompt", o->prompt, "The prompt (UTF-8)")->required();
       sub.add_option("--tokenizer", o->tokenizer_dir,
                      "Tokenizer folder with vocab.json and merges.txt (default: the built-in OpenAI CLIP vocabulary)")
           ->check(CLI::ExistingDirectory);
       sub.add_option_function<int>(
              "--pad-id", [o](const int& id) { o->pad_id = id; },
              "Padding id (default: the folder's pad_token, or 49407 = EOS for the built-in vocabulary; 0 for SDXL tokenizer_2)")
           ->check(CLI::NonNegativeNumber);
       sub.add_option("--max-length", o->max_length, "Length of the padded row (BOS + tokens + EOS + padding)")
           ->check(CLI::Range(2, 1 << 20));
       sub.add_flag("--tokens", o->tokens, "Also print the token strings");
       sub.add_flag("--chunks", o->chunks, "A1111 emphasis syntax and 75-token chunks with per-token weights");
       return std::function<void()>([o] { run_tokenize(*o); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
