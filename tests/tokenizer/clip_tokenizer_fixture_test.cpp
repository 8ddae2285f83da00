// Every prompt of ../shared/fixtures/tokenizer_fixtures.json (transformers CLIPTokenizer
// with ftfy: the reference) must give exactly the reference ids, both padded rows and
// the EOS index, with the embedded vocabulary and with the fixture's tokenizer folder.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/clip_tokenizer.h"

namespace diffnorm {
namespace {

const std::string kFixtureDir = std::string(DN_SHARED_DIR) + "/fixtures";

nlohmann::json load_fixtures() {
  const std::string path = kFixtureDir + "/tokenizer_fixtures.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture file " + path);
  return nlohmann::json::parse(in);
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Where two token sequences part, with the tokens around it (for a readable failure).
std::string first_difference(const ClipTokenizer& tokenizer, const std::vector<int>& got, const std::vector<int>& want) {
  std::size_t k = 0;
  while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
  auto around = [&](const std::vector<int>& ids) {
    std::string s;
    for (std::size_t j = k >= 3 ? k - 3 : 0; j < std::min(ids.size(), k + 4); ++j)
      s += (j == k ? "[" : " ") + std::to_string(ids[j]) + "=" + tokenizer.token(ids[j]) + (j == k ? "]" : " ");
    return s;
  };
  return "first difference at index " + std::to_string(k) + "\n  got:  " + around(got) + "\n  want: " + around(want);
}

// `tokenizer` pads with EOS (SD1.x, SDXL tokenizer); `tokenizer_2` with "!" = 0 (SDXL
// tokenizer_2, for which "!" is a special token: "!!!" is three of them).
void expect_matches_every_prompt(const ClipTokenizer& tokenizer, const ClipTokenizer& tokenizer_2) {
  const nlohmann::json fixtures = load_fixtures();
  const auto& prompts = fixtures.at("prompts");
  ASSERT_EQ(prompts.size(), 220u);
  int matched = 0;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const auto& p = prompts[i];
    const std::string text = from_hex(p.at("prompt_utf8_hex").get<std::string>());
    SCOPED_TRACE("prompt #" + std::to_string(i) + ": " + p.at("prompt").get<std::string>().substr(0, 80));
    const auto ids = tokenizer.tokenize(text);
    const auto padded_eos = tokenizer.encode_padded(text);
    const auto padded_zero = tokenizer_2.encode_padded(text);
    EXPECT_EQ(ids, p.at("ids").get<std::vector<int>>())
        << first_difference(tokenizer, ids, p.at("ids").get<std::vector<int>>());
    EXPECT_EQ(padded_eos, p.at("input_ids_pad_eos").get<std::vector<int>>());
    EXPECT_EQ(padded_zero, p.at("input_ids_pad_zero").get<std::vector<int>>());
    EXPECT_EQ(eos_index(padded_eos, tokenizer.eos_id()), p.at("eos_index").get<std::size_t>());
    std::vector<std::string> tokens;
    for (std::size_t k = 1; k + 1 < ids.size(); ++k) tokens.push_back(tokenizer.token(ids[k]));
    EXPECT_EQ(tokens, p.at("tokens").get<std::vector<std::string>>());
    matched += ids == p.at("ids").get<std::vector<int>>();
  }
  EXPECT_EQ(matched, 220);
}

TEST(ClipTokenizerFixtures, EmbeddedVocabularyMatchesEveryPrompt) {
  expect_matches_every_prompt(ClipTokenizer(), ClipTokenizer("!"));
}

TEST(ClipTokenizerFixtures, DiffusersFolderTokenizersMatchEveryPrompt) {
  const std::string sdxl = kFixtureDir + "/pipelines/sdxl-struct";
  expect_matches_every_prompt(ClipTokenizer::from_directory(sdxl + "/tokenizer"),
                              ClipTokenizer::from_directory(sdxl + "/tokenizer_2"));
}

}  // namespace
}  // namespace diffnorm
