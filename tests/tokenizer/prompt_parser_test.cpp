// A1111's parse_prompt_attention: its documented examples (the doctests of
// modules/prompt_parser.py), BREAK, escapes and errors.
#include <gtest/gtest.h>

#include "diffnorm/error.h"
#include "pipeline/prompt_parser.h"

namespace diffnorm {
namespace {

using Spans = std::vector<PromptSpan>;

TEST(PromptParser, DocumentedExamples) {
  EXPECT_EQ(parse_prompt_attention("normal text"), (Spans{{"normal text", 1.0}}));
  EXPECT_EQ(parse_prompt_attention("an (important) word"),
            (Spans{{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}}));
  EXPECT_EQ(parse_prompt_attention("(unbalanced"), (Spans{{"unbalanced", 1.1}}));
  EXPECT_EQ(parse_prompt_attention("\\(literal\\]"), (Spans{{"(literal]", 1.0}}));
  EXPECT_EQ(parse_prompt_attention("(unnecessary)(parens)"), (Spans{{"unnecessaryparens", 1.1}}));
  // The weights are Python's float products, compared exactly.
  EXPECT_EQ(parse_prompt_attention("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."),
            (Spans{{"a ", 1.0},
                   {"house", 1.5730000000000004},
                   {" ", 1.1},
                   {"on", 1.0},
                   {" a ", 1.1},
                   {"hill", 0.55},
                   {", sun, ", 1.1},
                   {"sky", 1.4641000000000006},
                   {".", 1.1}}));
}

TEST(PromptParser, SquareBracketsDivideAndNest) {
  const Spans spans = parse_prompt_attention("[[cat]] dog");
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].text, "cat");
  EXPECT_EQ(spans[0].weight, (1.0 * (1 / 1.1)) * (1 / 1.1));
  EXPECT_EQ(spans[1], (PromptSpan{" dog", 1.0}));
}

TEST(PromptParser, ExplicitWeightsAllowSpacesAndSigns) {
  EXPECT_EQ(parse_prompt_attention("(a: 0.5 )"), (Spans{{"a", 0.5}}));
  EXPECT_EQ(parse_prompt_attention("(a:+.5)"), (Spans{{"a", 0.5}}));
  EXPECT_EQ(parse_prompt_attention("(a:-1)"), (Spans{{"a", -1.0}}));
  // Without an open bracket the weight is plain text.
  EXPECT_EQ(parse_prompt_attention("a:1.2)"), (Spans{{"a:1.2)", 1.0}}));
  // A colon that does not start a weight is text inside the bracket.
  EXPECT_EQ(parse_prompt_attention("(a:b)"), (Spans{{"a:b", 1.1}}));
  EXPECT_THROW(parse_prompt_attention("(a:1.2.3)"), Error);
}

TEST(PromptParser, EscapesAndUnmatchedClosers) {
  EXPECT_EQ(parse_prompt_attention("a\\\\b"), (Spans{{"a\\b", 1.0}}));
  EXPECT_EQ(parse_prompt_attention("C:\\Users"), (Spans{{"C:Users", 1.0}}));  // a lone '\' is dropped
  EXPECT_EQ(parse_prompt_attention("a) b]"), (Spans{{"a) b]", 1.0}}));
  EXPECT_EQ(parse_prompt_attention(""), (Spans{{"", 1.0}}));
}

TEST(PromptParser, BreakSplitsOnWholeWordsAndEatsSurroundingSpace) {
  EXPECT_EQ(parse_prompt_attention("a cat  BREAK\na dog"),
            (Spans{{"a cat", 1.0}, {"BREAK", -1.0}, {"a dog", 1.0}}));
  EXPECT_TRUE(parse_prompt_attention("x BREAK y")[1].is_break());
  EXPECT_EQ(parse_prompt_attention("BREAKING aBREAK BREAK_"), (Spans{{"BREAKING aBREAK BREAK_", 1.0}}));
  EXPECT_EQ(parse_prompt_attention("BREAK"), (Spans{{"", 1.0}, {"BREAK", -1.0}, {"", 1.0}}));
  // Inside brackets BREAK is multiplied like any span and so stops being a BREAK (as in A1111).
  const Spans inside = parse_prompt_attention("(a BREAK b)");
  ASSERT_EQ(inside.size(), 3u);
  EXPECT_FALSE(inside[1].is_break());
  EXPECT_EQ(inside[1].weight, -1.0 * 1.1);
}

}  // namespace
}  // namespace diffnorm
