#include "weights/key_names.h"

#include <charconv>

namespace diffnorm::weights {

bool KeyNames::any(std::string_view prefix) const {
  const auto it = names_.lower_bound(prefix);
  return it != names_.end() && std::string_view(*it).starts_with(prefix);
}

int KeyNames::count(std::string_view prefix) const {
  int n = 0;
  for (auto it = names_.lower_bound(prefix); it != names_.end() && std::string_view(*it).starts_with(prefix); ++it) {
    const std::string_view rest = std::string_view(*it).substr(prefix.size());
    int index = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
    if (ec == std::errc() && end != rest.data() && end < rest.data() + rest.size() && *end == '.')
      n = std::max(n, index + 1);
  }
  return n;
}

}  // namespace diffnorm::weights
