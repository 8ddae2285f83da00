#include "cli/norm_inputs.h"

#include <array>
#include <cmath>

#include <fmt/ranges.h>

#include "core/check.h"
#include "diffnorm/safetensors.h"

namespace diffnorm::cli {
namespace {

constexpr std::array<std::string_view, 10> kInputNames = {
    "x", "weight", "bias", "running_mean", "running_var", "scale", "shift", "residual", "dy", "num_batches_tracked"};

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// "[1, 3, 5, 7]": the multi-index of a flat row-major index.
std::string index_text(const Shape& shape, int64_t flat) {
  Shape index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(index, ", "));
}

void check_finite(const std::string& path, const std::string& name, const Tensor& t) {
  const Tensor f = t.to(DType::F32);
  const float* p = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i)
    DN_CHECK(std::isfinite(p[i]), "{}: tensor '{}' {} holds {} at index {} (element {}); the input must be finite",
             path, name, t.describe(), p[i], index_text(t.shape(), i), i);
}

}  // namespace

NormInputs NormInputs::read(const std::string& path) {
  NormInputs in;
  in.path_ = path;
  const SafeTensorsFile file = SafeTensorsFile::open(path);
  for (const TensorInfo& info : file.tensors()) {
    bool known = false;
    for (std::string_view n : kInputNames) known = known || n == info.name;
    DN_CHECK(known, "{}: unexpected tensor '{}'; the inputs of `diffnorm norm` are x, weight, bias, running_mean, "
             "running_var, num_batches_tracked, scale, shift, residual, dy",
             path, info.name);
    Tensor t = file.get(info.name);
    if (info.name == "num_batches_tracked") {
      DN_CHECK(t.dtype() == DType::I64 && t.numel() == 1,
               "{}: num_batches_tracked must be one I64 value (as PyTorch stores it), got {}", path, t.describe());
    } else {
      DN_CHECK(is_float(t.dtype()), "{}: tensor '{}' is {}; expected F32, F16 or BF16", path, info.name,
               dtype_name(t.dtype()));
      check_finite(path, info.name, t);
    }
    in.tensors_.emplace(info.name, std::move(t));
  }
  if (!in.has("x")) {
    std::string names;
    for (const auto& entry : in.tensors_) names += (names.empty() ? "" : ", ") + entry.first;
    fail("{}: no tensor named 'x' (the layer's input); the file holds: {}", path, names.empty() ? "nothing" : names);
  }
  return in;
}

const Tensor& NormInputs::raw(std::string_view name) const {
  const auto it = tensors_.find(std::string(name));
  DN_CHECK(it != tensors_.end(), "{}: no tensor named '{}'", path_, name);
  return it->second;
}

Tensor NormInputs::get(std::string_view name, DType dtype) const { return raw(name).to(dtype); }

std::optional<Tensor> NormInputs::optional_f32(std::string_view name) const {
  if (!has(name)) return std::nullopt;
  return get(name, DType::F32);
}

void NormInputs::expect_shape(std::string_view name, const Shape& shape, std::string_view what) const {
  if (!has(name)) return;
  const Tensor& t = raw(name);
  DN_CHECK(t.shape() == shape, "{}: tensor '{}' has shape {}; expected {} ({})", path_, name, shape_str(t.shape()),
           shape_str(shape), what);
}

void NormInputs::reject(std::string_view name, std::string_view why) const {
  DN_CHECK(!has(name), "{}: tensor '{}' given, but {}", path_, name, why);
}

}  // namespace diffnorm::cli
