// Lookups into the generated tables (unicode_tables_data.cpp): binary searches over
// sorted arrays, plus the composition index built once on first use.
#include "pipeline/unicode_tables.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace diffnorm::unicode {
namespace {

std::uint8_t range_value(const data::PropertyRange* ranges, std::size_t count, char32_t c) {
  const data::PropertyRange* end = ranges + count;
  const data::PropertyRange* it = std::upper_bound(
      ranges, end, c, [](char32_t v, const data::PropertyRange& r) { return v < r.first; });
  if (it == ranges) return 0;
  --it;
  return c <= it->last ? it->value : 0;
}

const CodePointMapping* find_mapping(const CodePointMapping* table, std::size_t count, char32_t c) {
  const CodePointMapping* end = table + count;
  const CodePointMapping* it = std::lower_bound(
      table, end, c, [](const CodePointMapping& m, char32_t v) { return m.code_point < v; });
  return it != end && it->code_point == c ? it : nullptr;
}

}  // namespace

std::uint8_t properties(char32_t c) {
  return range_value(data::kPropertyRanges, data::kPropertyRangeCount, c);
}

int combining_class(char32_t c) {
  return range_value(data::kCombiningClassRanges, data::kCombiningClassRangeCount, c);
}

const CanonicalDecomposition* canonical_decomposition(char32_t c) {
  const CanonicalDecomposition* begin = data::kCanonicalDecompositions;
  const CanonicalDecomposition* end = begin + data::kCanonicalDecompositionCount;
  const CanonicalDecomposition* it = std::lower_bound(
      begin, end, c, [](const CanonicalDecomposition& d, char32_t v) { return d.code_point < v; });
  return it != end && it->code_point == c ? it : nullptr;
}

char32_t canonical_composition(char32_t first, char32_t second) {
  static const std::unordered_map<std::uint64_t, char32_t> index = [] {
    std::unordered_map<std::uint64_t, char32_t> m;
    for (std::size_t i = 0; i < data::kCanonicalDecompositionCount; ++i) {
      const CanonicalDecomposition& d = data::kCanonicalDecompositions[i];
      if (d.composes) m.emplace((std::uint64_t(d.first) << 32) | d.second, d.code_point);
    }
    return m;
  }();
  auto it = index.find((std::uint64_t(first) << 32) | second);
  return it == index.end() ? 0 : it->second;
}

const CodePointMapping* lower_mapping(char32_t c) {
  return find_mapping(data::kLowerMappings, data::kLowerMappingCount, c);
}

const CodePointMapping* width_mapping(char32_t c) {
  return find_mapping(data::kWidthMappings, data::kWidthMappingCount, c);
}

const HtmlEntity* html_entity(std::string_view name) {
  const HtmlEntity* begin = data::kHtmlEntities;
  const HtmlEntity* end = begin + data::kHtmlEntityCount;
  const HtmlEntity* it = std::lower_bound(begin, end, name, [](const HtmlEntity& e, std::string_view v) {
    return std::string_view(e.name) < v;
  });
  return it != end && std::string_view(it->name) == name ? it : nullptr;
}

std::u32string html_numeric_reference(std::uint64_t number) {
  // html.unescape's rules (HTML5 "numeric character reference end state").
  if (number <= 0x10FFFF) {
    if (const CodePointMapping* m =
            find_mapping(data::kHtmlInvalidCharrefs, data::kHtmlInvalidCharrefCount, char32_t(number))) {
      std::u32string out;
      for (char32_t t : m->to)
        if (t) out += t;
      return out;
    }
  }
  if ((number >= 0xD800 && number <= 0xDFFF) || number > 0x10FFFF) return U"\uFFFD";
  const char32_t* invalid_end = data::kHtmlInvalidCodepoints + data::kHtmlInvalidCodepointCount;
  if (std::binary_search(data::kHtmlInvalidCodepoints, invalid_end, char32_t(number))) return U"";
  return std::u32string(1, char32_t(number));
}

std::span<const SingleByteCodec> charmap_encodings() {
  return {data::kCharmapEncodings, data::kCharmapEncodingCount};
}

const char* unicode_version() { return data::kUnicodeVersion; }

}  // namespace diffnorm::unicode
