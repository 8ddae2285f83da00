// The pieces of the CLIP text normalisation, against independent facts: Unicode's
// normalisation and case mapping rules, and the examples of ftfy's documentation.
#include <gtest/gtest.h>

#include "diffnorm/error.h"
#include "pipeline/text_mojibake.h"
#include "pipeline/text_normalize.h"
#include "pipeline/unicode_normalize.h"
#include "pipeline/unicode_tables.h"
#include "pipeline/unicode_utf8.h"

namespace diffnorm {
namespace {

std::string fixed(std::string_view utf8) { return unicode::encode_utf8(fix_text(unicode::decode_utf8(utf8))); }

TEST(UnicodeNfc, ComposesReordersAndRespectsExclusions) {
  EXPECT_EQ(unicode::nfc(U"e\u0301"), U"\u00E9");
  EXPECT_EQ(unicode::nfc(U"\u1100\u1161\u11A8"), U"\uAC01");         // Hangul L V T
  EXPECT_EQ(unicode::nfc(U"a\u0302\u0323"), U"\u1EAD");              // reordered: dot below first
  EXPECT_EQ(unicode::nfc(U"\u212B"), U"\u00C5");                     // singleton: Angstrom sign
  EXPECT_EQ(unicode::nfc(U"\u0958"), U"\u0915\u093C");               // composition exclusion
  EXPECT_EQ(unicode::nfc(U"\u0301e"), U"\u0301e");                   // no starter before the mark
  EXPECT_EQ(unicode::nfc(U"\u30AB\u3099"), U"\u30AC");               // ka + dakuten
}

TEST(UnicodeLower, FullMappingsAndFinalSigma) {
  EXPECT_EQ(unicode::lower(U"\u0130stanbul"), U"i\u0307stanbul");
  EXPECT_EQ(unicode::lower(U"\u039F\u0394\u039F\u03A3"), U"\u03BF\u03B4\u03BF\u03C2");
  EXPECT_EQ(unicode::lower(U"\u03A3"), U"\u03C3");
  EXPECT_EQ(unicode::lower(U"\u039F\u03A3\u0391"), U"\u03BF\u03C3\u03B1");
  EXPECT_EQ(unicode::lower(U"ABC\u00C0"), U"abc\u00E0");
}

TEST(UnicodeProperties, LettersNumbersSpaces) {
  using namespace unicode;
  EXPECT_TRUE(has(U'a', kLetter));
  EXPECT_TRUE(has(U'\u732B', kLetter));  // 猫
  EXPECT_TRUE(has(U'\u0661', kNumber));  // Arabic-Indic one
  EXPECT_TRUE(has(U'\u2463', kNumber));  // circled four
  EXPECT_TRUE(has(U'\u3000', kSpace));
  EXPECT_FALSE(has(U'\u200B', kSpace));
  EXPECT_TRUE(has(U'\u0345', kLetterIgnoringCase));
  EXPECT_FALSE(has(U'\u0301', kLetter));
  EXPECT_TRUE(has(U'\u0301', kMark));
}

TEST(Utf8, RejectsInvalidInput) {
  EXPECT_THROW(unicode::decode_utf8("\xC3"), Error);
  EXPECT_THROW(unicode::decode_utf8("\xC0\x80"), Error);
  EXPECT_THROW(unicode::decode_utf8("\xED\xA0\x80"), Error);
  EXPECT_EQ(unicode::encode_utf8(unicode::decode_utf8("caf\xC3\xA9 \xF0\x9F\x90\xB1")), "caf\xC3\xA9 \xF0\x9F\x90\xB1");
}

// Examples from ftfy's documentation (fix_encoding / fix_text docstrings).
TEST(FixText, RepairsMojibake) {
  EXPECT_EQ(fixed("\xC3\x83\xC2\xBAnico"), "\xC3\xBAnico");                      // "Ãºnico" -> "único"
  EXPECT_EQ(fixed("This \xC3\xA2\xE2\x82\xAC\xE2\x80\x9D should be an em dash"),  // "â€”"
            "This \xE2\x80\x94 should be an em dash");
  EXPECT_EQ(fixed("This text was never UTF-8 at all\xC2\x85"), "This text was never UTF-8 at all\xE2\x80\xA6");
  EXPECT_FALSE(looks_like_mojibake(U"not such a fan of Charlotte Bront\u00EB\u2026"));
  EXPECT_TRUE(looks_like_mojibake(U"caf\u00C3\u00A9"));
}

TEST(FixText, EntitiesQuotesWidthLigaturesControls) {
  EXPECT_EQ(fixed("&lt;tag&gt;"), "<tag>");
  EXPECT_EQ(fixed("<b>&amp;</b>"), "<b>&amp;</b>");  // text with '<' keeps its entities
  EXPECT_EQ(fixed("&amp;amp;"), "&");                 // repeated until nothing changes
  EXPECT_EQ(fixed("&#x41;&#66;&#128;&#12ab;"), "AB\xE2\x82\xAC&#12ab;");
  EXPECT_EQ(fixed("\xE2\x80\x9Chere\xE2\x80\x99s a test\xE2\x80\x9D"), "\"here's a test\"");
  EXPECT_EQ(fixed("\xEF\xBC\xA6\xEF\xBD\x95\xEF\xBD\x8C\xEF\xBD\x8C"), "Full");  // fullwidth
  EXPECT_EQ(fixed("\xEF\xAC\x81sh"), "fish");                                  // ﬁ ligature
  EXPECT_EQ(fixed(std::string("a\0b\x1B[36mc\x7F", 10)), "abc");
  EXPECT_EQ(fixed("a\r\nb\rc"), "a\nb\nc");
}

TEST(ClipNormalize, WhitespaceAndCase) {
  EXPECT_EQ(normalize_clip_text(U"  A\t\u3000B\n\nC  "), U"a b c");
  EXPECT_EQ(normalize_clip_text(U"   "), U"");
}

}  // namespace
}  // namespace diffnorm
