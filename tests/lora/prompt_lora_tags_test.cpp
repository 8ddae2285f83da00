// <lora:NAME:WEIGHT> prompt tags: removed from the text A1111-style, parsed, errors named.
#include <gtest/gtest.h>

#include <functional>

#include "diffnorm/error.h"
#include "pipeline/prompt_lora_tags.h"

namespace diffnorm {
namespace {

TEST(PromptLoraTags, RemovedFromTheTextOnly) {
  const PromptWithoutLoraTags p = extract_lora_tags("a cat <lora:style_v2:0.8>, (red:1.2) <lyco:detail>");
  EXPECT_EQ(p.text, "a cat , (red:1.2) ");
  ASSERT_EQ(p.tags.size(), 2u);
  EXPECT_EQ(p.tags[0].name, "style_v2");
  EXPECT_DOUBLE_EQ(p.tags[0].weight, 0.8);
  EXPECT_EQ(p.tags[1].name, "detail");
  EXPECT_DOUBLE_EQ(p.tags[1].weight, 1.0);
}

TEST(PromptLoraTags, OtherAngleBracketsStay) {
  EXPECT_EQ(extract_lora_tags("<hypernet:x:1> a <lora:unclosed").text, "<hypernet:x:1> a <lora:unclosed");
  EXPECT_TRUE(extract_lora_tags("plain").tags.empty());
}

TEST(PromptLoraTags, BadTagsAreNamed) {
  for (const char* bad : {"<lora:x:strong>", "<lora::0.5>", "<lora:x:0.8:0.5>", "<lora:x:>"}) {
    try {
      extract_lora_tags(std::string("a ") + bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace diffnorm
