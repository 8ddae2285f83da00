// A1111's chunking of long prompts: 75-token chunks wrapped in BOS/EOS, BREAK, the
// comma backtrack, per-token weights and the pad id. Expected rows are derived by hand
// from the rules of sd_hijack_clip.py (tokenize_line) with the known CLIP ids below.
#include <gtest/gtest.h>

#include <string>

#include "pipeline/prompt_chunks.h"

namespace diffnorm {
namespace {

constexpr int kBos = 49406, kEos = 49407;
constexpr int kCat = 2368, kDog = 1929, kComma = 267;  // "cat</w>", "dog</w>", ",</w>"

std::string repeat(const std::string& word, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += word + " ";
  return s;
}

std::vector<int> row(std::vector<int> tokens, int pad = kEos) {
  std::vector<int> r{kBos};
  r.insert(r.end(), tokens.begin(), tokens.end());
  r.push_back(kEos);
  r.resize(77, pad);
  return r;
}

std::vector<int> times(int id, int n) { return std::vector<int>(n, id); }

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(PromptChunks, KnownTokenIds) {
  const ClipTokenizer tokenizer;
  EXPECT_EQ(tokenizer.encode("cat dog,"), (std::vector<int>{kCat, kDog, kComma}));
}

TEST(PromptChunks, EmptyPromptIsOneChunkOfEos) {
  const auto chunks = chunk_prompt(ClipTokenizer(), "");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].ids, row({}));
  EXPECT_EQ(chunks[0].weights, std::vector<float>(77, 1.0f));
}

TEST(PromptChunks, SeventyFiveTokensFitOneChunkAndTheNextStartsAnother) {
  const ClipTokenizer tokenizer;
  auto chunks = chunk_prompt(tokenizer, repeat("cat", 75));
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].ids, row(times(kCat, 75)));
  chunks = chunk_prompt(tokenizer, repeat("cat", 80));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].ids, row(times(kCat, 75)));
  EXPECT_EQ(chunks[1].ids, row(times(kCat, 5)));
}

TEST(PromptChunks, TextAfterALateCommaMovesToTheNextChunk) {
  const ClipTokenizer tokenizer;
  const std::string prompt = repeat("cat", 70) + ", " + repeat("dog", 10);
  auto chunks = chunk_prompt(tokenizer, prompt);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].ids, row(concat(times(kCat, 70), {kComma})));
  EXPECT_EQ(chunks[1].ids, row(times(kDog, 10)));

  PromptChunkOptions no_backtrack;
  no_backtrack.comma_backtrack = 0;
  chunks = chunk_prompt(tokenizer, prompt, no_backtrack);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].ids, row(concat(concat(times(kCat, 70), {kComma}), times(kDog, 4))));
  EXPECT_EQ(chunks[1].ids, row(times(kDog, 6)));

  // A comma further than 20 tokens from the end does not move anything.
  chunks = chunk_prompt(tokenizer, repeat("cat", 50) + ", " + repeat("dog", 30));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].ids, row(concat(concat(times(kCat, 50), {kComma}), times(kDog, 24))));
  EXPECT_EQ(chunks[1].ids, row(times(kDog, 6)));
}

TEST(PromptChunks, BreakClosesTheChunk) {
  const auto chunks = chunk_prompt(ClipTokenizer(), "cat BREAK dog dog");
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].ids, row({kCat}));
  EXPECT_EQ(chunks[1].ids, row({kDog, kDog}));
}

TEST(PromptChunks, WeightsFollowTheirTokens) {
  const auto chunks = chunk_prompt(ClipTokenizer(), "(cat:1.5) [dog]");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].ids, row({kCat, kDog}));
  std::vector<float> weights(77, 1.0f);
  weights[1] = 1.5f;
  weights[2] = static_cast<float>(1 / 1.1);
  EXPECT_EQ(chunks[0].weights, weights);

  PromptChunkOptions literal;
  literal.parse_emphasis = false;
  EXPECT_EQ(chunk_prompt(ClipTokenizer(), "(cat:1.5)", literal)[0].weights, std::vector<float>(77, 1.0f));
}

TEST(PromptChunks, PadIdReplacesEverythingAfterTheFirstEos) {
  PromptChunkOptions zero_pad;
  zero_pad.pad_id = 0;
  const auto chunks = chunk_prompt(ClipTokenizer(), "cat dog", zero_pad);
  EXPECT_EQ(chunks[0].ids, row({kCat, kDog}, 0));
}

}  // namespace
}  // namespace diffnorm
