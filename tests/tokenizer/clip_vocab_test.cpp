// The vocabulary compiled into the library (derived from OpenAI's BPE file as
// clip/simple_tokenizer.py does) equals the vocab.json/merges.txt that transformers
// uses, and tokenizer folders are read with their own pad token.
#include <gtest/gtest.h>

#include <filesystem>

#include "diffnorm/error.h"
#include "pipeline/clip_tokenizer.h"

namespace diffnorm {
namespace {

const std::filesystem::path kTokenizerDir = std::filesystem::path(DN_SHARED_DIR) / "fixtures" / "clip-tokenizer";

TEST(ClipVocab, EmbeddedDerivationEqualsTransformersFiles) {
  const ClipVocab& builtin = ClipVocab::builtin();
  const ClipVocab files = ClipVocab::from_files(kTokenizerDir / "vocab.json", kTokenizerDir / "merges.txt");
  ASSERT_EQ(builtin.size(), 49408u);
  ASSERT_EQ(files.size(), builtin.size());
  for (int id = 0; id < static_cast<int>(builtin.size()); ++id) ASSERT_EQ(builtin.token(id), files.token(id)) << id;
  EXPECT_EQ(builtin.merge_count(), 48894u);
  EXPECT_EQ(files.merge_count(), builtin.merge_count());
  EXPECT_EQ(builtin.merge_rank("i", "n"), 0);
  EXPECT_EQ(files.merge_rank("th", "e</w>"), builtin.merge_rank("th", "e</w>"));
  EXPECT_EQ(builtin.merge_rank("zz", "qq"), -1);
  EXPECT_EQ(builtin.id("<|startoftext|>"), 49406);
  EXPECT_EQ(builtin.id("<|endoftext|>"), 49407);
  EXPECT_EQ(builtin.id("!"), 0);
}

TEST(ClipTokenizerFolder, PadTokenComesFromTheDiffusersFolder) {
  const std::filesystem::path pipelines = std::filesystem::path(DN_SHARED_DIR) / "fixtures" / "pipelines";
  EXPECT_EQ(ClipTokenizer().pad_id(), 49407);
  EXPECT_EQ(ClipTokenizer::from_directory(pipelines / "sd15-struct" / "tokenizer").pad_id(), 49407);
  EXPECT_EQ(ClipTokenizer::from_directory(pipelines / "sdxl-struct" / "tokenizer").pad_id(), 49407);
  const ClipTokenizer tokenizer_2 = ClipTokenizer::from_directory(pipelines / "sdxl-struct" / "tokenizer_2");
  EXPECT_EQ(tokenizer_2.pad_id(), 0);  // pad_token "!"
  EXPECT_EQ(ClipTokenizer::from_directory(pipelines / "sdxl-refiner-struct" / "tokenizer_2").pad_id(), 0);

  std::vector<int> expected{49406, 320, 1125, 539, 320, 2368, 49407};  // "a photo of a cat"
  expected.resize(77, 0);
  EXPECT_EQ(tokenizer_2.encode_padded("a photo of a cat"), expected);
  EXPECT_EQ(eos_index(expected, tokenizer_2.eos_id()), 6u);
}

TEST(ClipTokenizerFolder, MissingFilesAreReported) {
  EXPECT_THROW(ClipTokenizer::from_directory(std::filesystem::temp_directory_path() / "no_such_tokenizer_dir"), Error);
}

}  // namespace
}  // namespace diffnorm
