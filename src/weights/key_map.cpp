#include "weights/key_map.h"

#include "core/check.h"

namespace diffnorm::weights {

namespace {

bool is_prefix(std::string_view name) { return !name.empty() && name.back() == '.'; }

int qkv_part(Transform t) { return t == Transform::QkvQ ? 0 : t == Transform::QkvK ? 1 : 2; }

// Candidates for `key` in lookup order: the key itself (an exact rule), then each of its
// prefixes ending in '.', longest first. Calls f(candidate) until it returns true.
template <class F>
void for_each_candidate(std::string_view key, F f) {
  if (f(key)) return;
  for (std::size_t i = key.size(); i-- > 0;)
    if (key[i] == '.' && i + 1 < key.size() && f(key.substr(0, i + 1))) return;
}

}  // namespace

Shape transform_shape(Transform t, const Shape& s, std::string_view key) {
  switch (t) {
    case Transform::Copy:
      return s;
    case Transform::Conv1x1ToLinear:
      if (s.size() == 4 && s[2] == 1 && s[3] == 1) return {s[0], s[1]};
      DN_CHECK(s.size() == 2, "checkpoint tensor '{}' has shape {}, expected a 1x1 conv [O,I,1,1] or a Linear [O,I]",
               key, shape_str(s));
      return s;
    case Transform::Transpose:
      DN_CHECK(s.size() == 2, "checkpoint tensor '{}' has shape {}, expected a matrix", key, shape_str(s));
      return {s[1], s[0]};
    case Transform::QkvQ:
    case Transform::QkvK:
    case Transform::QkvV: {
      DN_CHECK(!s.empty() && s[0] % 3 == 0,
               "checkpoint tensor '{}' has shape {}, expected fused q|k|v with a first dimension divisible by 3", key,
               shape_str(s));
      Shape out = s;
      out[0] /= 3;
      return out;
    }
  }
  fail("transform_shape: unknown transform");
}

Tensor transform_tensor(Transform t, const Tensor& x) {
  switch (t) {
    case Transform::Copy:
      return x;
    case Transform::Conv1x1ToLinear:
      return x.dim() == 4 ? x.contiguous().reshape({x.size(0), x.size(1)}) : x;
    case Transform::Transpose:
      return x.permute({1, 0});
    case Transform::QkvQ:
    case Transform::QkvK:
    case Transform::QkvV: {
      const int64_t n = x.size(0) / 3;
      return x.narrow(0, qkv_part(t) * n, n);
    }
  }
  fail("transform_tensor: unknown transform");
}

void KeyMap::add(std::string original, std::string diffusers, Transform transform) {
  DN_CHECK(is_prefix(original) == is_prefix(diffusers), "KeyMap: rule '{}' <-> '{}' mixes a prefix and an exact name",
           original, diffusers);
  DN_CHECK(!by_diffusers_.count(diffusers), "KeyMap: diffusers name '{}' has two rules", diffusers);
  by_original_[original].push_back(rules_.size());
  by_diffusers_.emplace(diffusers, rules_.size());
  rules_.push_back(Rule{std::move(original), std::move(diffusers), transform, false});
}

void KeyMap::drop(std::string original) {
  by_original_[original].push_back(rules_.size());
  rules_.push_back(Rule{std::move(original), {}, Transform::Copy, true});
}

std::optional<std::vector<MappedKey>> KeyMap::to_diffusers(std::string_view original) const {
  std::optional<std::vector<MappedKey>> out;
  for_each_candidate(original, [&](std::string_view c) {
    const auto it = by_original_.find(c);
    if (it == by_original_.end()) return false;
    out.emplace();
    const std::string_view rest = original.substr(c.size());
    for (std::size_t i : it->second)
      if (!rules_[i].dropped) out->push_back(MappedKey{rules_[i].diffusers + std::string(rest), rules_[i].transform});
    return true;
  });
  return out;
}

std::optional<MappedKey> KeyMap::to_original(std::string_view diffusers) const {
  std::optional<MappedKey> out;
  for_each_candidate(diffusers, [&](std::string_view c) {
    const auto it = by_diffusers_.find(c);
    if (it == by_diffusers_.end()) return false;
    const Rule& r = rules_[it->second];
    out = MappedKey{r.original + std::string(diffusers.substr(c.size())), r.transform};
    return true;
  });
  return out;
}

}  // namespace diffnorm::weights
