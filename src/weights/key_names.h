// KeyNames: the tensor names of one checkpoint component (its prefix removed), sorted, with
// the structural queries the layout inference needs ("is there any key under this prefix",
// "how many numbered children does this prefix have").
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace diffnorm::weights {

class KeyNames {
 public:
  KeyNames() = default;
  explicit KeyNames(std::set<std::string, std::less<>> names) : names_(std::move(names)) {}

  /// Whether some name starts with `prefix`.
  bool any(std::string_view prefix) const;
  bool contains(std::string_view name) const { return names_.count(name) != 0; }
  /// 1 + the largest N among names "<prefix>N.*" (0 when there is none).
  int count(std::string_view prefix) const;
  const std::set<std::string, std::less<>>& names() const { return names_; }

 private:
  std::set<std::string, std::less<>> names_;
};

}  // namespace diffnorm::weights
