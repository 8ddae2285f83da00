// KeyMap: a two-way table between the tensor names of an original single-file checkpoint
// (CompVis LDM / Stability SGM / OpenCLIP layouts) and diffusers' names, with the reshape
// each tensor needs on the way.
//
// A rule pairs an original name with a diffusers name. A name ending in '.' is a prefix
// (everything after it is carried over unchanged); any other name is exact. A key is
// mapped by its longest matching rule (exact names first), so a block-level prefix rule
// ("input_blocks.1.1." <-> "down_blocks.0.attentions.0.") and finer rules inside it can
// coexist. One original tensor may feed several diffusers tensors (OpenCLIP's fused q/k/v).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diffnorm/tensor.h"

namespace diffnorm::weights {

enum class Transform {
  Copy,             // same values, same shape
  Conv1x1ToLinear,  // [O, I, 1, 1] conv weight -> [O, I] Linear weight (LDM VAE attention)
  Transpose,        // [A, B] -> [B, A] (OpenCLIP text_projection is stored [in, out])
  QkvQ,             // rows [0, n/3) of a fused q|k|v in_proj tensor
  QkvK,             // rows [n/3, 2n/3)
  QkvV,             // rows [2n/3, n)
};

/// The stored shape `original` seen through `t` (Error naming `key` when it does not fit).
Shape transform_shape(Transform t, const Shape& original, std::string_view key);
/// A view (or copy) of `original` through `t`; the shape was checked by transform_shape.
Tensor transform_tensor(Transform t, const Tensor& original);

struct MappedKey {
  std::string key;  // the name on the other side
  Transform transform = Transform::Copy;
};

class KeyMap {
 public:
  /// Adds a rule original <-> diffusers (both prefixes ending in '.', or both exact names).
  void add(std::string original, std::string diffusers, Transform transform = Transform::Copy);
  /// Marks an original name (exact or prefix) as knowingly unused: it maps to no diffusers key.
  void drop(std::string original);

  /// The diffusers tensors an original key feeds: empty when dropped, nullopt when no rule matches.
  std::optional<std::vector<MappedKey>> to_diffusers(std::string_view original) const;
  /// The original tensor a diffusers key comes from (its transform included), nullopt when none.
  std::optional<MappedKey> to_original(std::string_view diffusers) const;

 private:
  struct Rule {
    std::string original, diffusers;
    Transform transform;
    bool dropped;
  };
  std::vector<Rule> rules_;
  std::map<std::string, std::vector<std::size_t>, std::less<>> by_original_;
  std::map<std::string, std::size_t, std::less<>> by_diffusers_;
};

}  // namespace diffnorm::weights
