// ActivationCapture: an optional hook that receives intermediate outputs under the names
// the reference fixtures use: "act.<module path>", image-like tensors converted from the
// engine's NHWC to NCHW, token tensors [B, T, C] and vectors [B, C] as they are.
// Models take a `const ActivationCapture*`; null (the default) costs nothing.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "diffnorm/tensor.h"

namespace diffnorm::models {

class ActivationCapture {
 public:
  using Hook = std::function<void(const std::string& name, const Tensor& value)>;
  explicit ActivationCapture(Hook hook) : hook_(std::move(hook)) {}
  /// A capture that stores copies into `out` (later values of a name replace earlier ones).
  static ActivationCapture into(std::map<std::string, Tensor>& out) {
    return ActivationCapture([&out](const std::string& name, const Tensor& v) { out[name] = v; });
  }

  /// An NHWC activation of module `path`, handed over as NCHW.
  void image(const std::string& path, const Tensor& nhwc) const { hook_("act." + path, nhwc.nhwc_to_nchw()); }
  /// A token / vector activation of module `path`, copied.
  void tokens(const std::string& path, const Tensor& t) const { hook_("act." + path, t.clone()); }

 private:
  Hook hook_;
};

}  // namespace diffnorm::models
