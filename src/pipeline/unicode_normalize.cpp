#include "pipeline/unicode_normalize.h"

#include <algorithm>

#include "pipeline/unicode_tables.h"

namespace diffnorm::unicode {
namespace {

// Hangul syllables decompose and compose arithmetically (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

void decompose(char32_t c, std::u32string& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const char32_t s = c - kSBase;
    out += kLBase + s / kNCount;
    out += kVBase + (s % kNCount) / kTCount;
    if (s % kTCount) out += kTBase + s % kTCount;
    return;
  }
  if (const CanonicalDecomposition* d = canonical_decomposition(c)) {
    decompose(d->first, out);
    if (d->second) decompose(d->second, out);
    return;
  }
  out += c;
}

char32_t compose_pair(char32_t first, char32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase && second < kVBase + kVCount)
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 && second > kTBase &&
      second < kTBase + kTCount)
    return first + (second - kTBase);
  return canonical_composition(first, second);
}

}  // namespace

std::u32string nfc(std::u32string_view text) {
  std::u32string d;
  d.reserve(text.size());
  for (char32_t c : text) decompose(c, d);

  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (std::size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < d.size() && combining_class(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }

  // Canonical composition: a character joins the last starter unless blocked.
  std::u32string out;
  out.reserve(d.size());
  std::size_t starter = std::u32string::npos;
  int last_class = -1;
  for (char32_t c : d) {
    const int cls = combining_class(c);
    if (starter != std::u32string::npos) {
      const bool blocked = last_class != -1 && (last_class == 0 || last_class >= cls);
      if (!blocked) {
        if (char32_t composite = compose_pair(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (cls == 0) {
      starter = out.size();
      last_class = -1;
    } else {
      last_class = cls;
    }
    out += c;
  }
  return out;
}

std::u32string lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == 0x3A3) {
      // Final_Sigma: cased (case-ignorable)* Σ not followed by (case-ignorable)* cased.
      std::size_t j = i;
      while (j > 0 && has(text[j - 1], kCaseIgnorable)) --j;
      bool final_sigma = j > 0 && has(text[j - 1], kCased);
      if (final_sigma) {
        std::size_t k = i + 1;
        while (k < text.size() && has(text[k], kCaseIgnorable)) ++k;
        final_sigma = k == text.size() || !has(text[k], kCased);
      }
      out += final_sigma ? char32_t(0x3C2) : char32_t(0x3C3);
      continue;
    }
    if (const CodePointMapping* m = lower_mapping(c)) {
      for (char32_t t : m->to)
        if (t) out += t;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace diffnorm::unicode
