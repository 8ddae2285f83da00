#include "nn/weight_source.h"

#include <cmath>

#include "core/check.h"

namespace diffnorm::nn {

Tensor WeightSource::get(const std::string& key, const Shape& expected) {
  const std::optional<Shape> found = shape_of(key, expected);
  DN_CHECK(found.has_value(), "{}: missing weight '{}' (expected shape {})", origin(), key, shape_str(expected));
  DN_CHECK(*found == expected, "{}: weight '{}' has shape {}, expected {}", origin(), key, shape_str(*found),
           shape_str(expected));
  used_.insert(key);
  Tensor t = load(key, expected);
  return t.dtype() == DType::F32 && t.is_contiguous() ? t : t.to(DType::F32);
}

void WeightSource::ignore(const std::string& key) { used_.insert(key); }

void WeightSource::check_all_used() const {
  std::vector<std::string> unused;
  for (const std::string& k : keys())
    if (!used_.count(k)) unused.push_back(k);
  if (unused.empty()) return;
  const std::size_t shown = std::min<std::size_t>(unused.size(), 8);
  std::string list;
  for (std::size_t i = 0; i < shown; ++i) list += (i ? ", " : "") + unused[i];
  fail("{}: {} unexpected weight(s) not used by the model (does config.json match the weights?): {}{}",
       origin(), unused.size(), list, unused.size() > shown ? ", ..." : "");
}

// ---- SafeTensorsWeights ----------------------------------------------------------------

SafeTensorsWeights::SafeTensorsWeights(const std::vector<std::string>& paths) {
  DN_CHECK(!paths.empty(), "SafeTensorsWeights: no weight files given");
  for (const std::string& p : paths) {
    SafeTensorsFile f = SafeTensorsFile::open(p);
    for (const TensorInfo& t : f.tensors())
      for (const SafeTensorsFile& other : files_)
        DN_CHECK(!other.contains(t.name), "weight '{}' occurs in both {} and {}", t.name, other.path(), p);
    files_.push_back(std::move(f));
  }
}

std::string SafeTensorsWeights::origin() const {
  std::string s;
  for (const SafeTensorsFile& f : files_) s += (s.empty() ? "" : " + ") + f.path();
  return s;
}

const SafeTensorsFile* SafeTensorsWeights::file_of(const std::string& key) const {
  for (const SafeTensorsFile& f : files_)
    if (f.contains(key)) return &f;
  return nullptr;
}

std::optional<Shape> SafeTensorsWeights::shape_of(const std::string& key, const Shape&) const {
  const SafeTensorsFile* f = file_of(key);
  if (!f) return std::nullopt;
  return f->find(key)->shape;
}

Tensor SafeTensorsWeights::load(const std::string& key, const Shape&) {
  const Tensor t = file_of(key)->get(key);
  const DType d = t.dtype();
  DN_CHECK(d == DType::F32 || d == DType::F16 || d == DType::BF16, "{}: weight '{}' has dtype {}, expected F32, F16 or BF16",
           origin(), key, dtype_name(d));
  return t;
}

std::vector<std::string> SafeTensorsWeights::keys() const {
  std::vector<std::string> out;
  for (const SafeTensorsFile& f : files_)
    for (const TensorInfo& t : f.tensors()) out.push_back(t.name);
  return out;
}

// ---- RandomWeights -----------------------------------------------------------------------

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

Tensor RandomWeights::load(const std::string& key, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  const int64_t n = t.numel();
  float center = 0.0f, half_width = 0.05f;
  if (shape.size() >= 2) {
    half_width = float(1.0 / std::sqrt(double(n / shape[0])));
  } else if (key.ends_with(".weight")) {
    center = 1.0f;
    half_width = 0.1f;
  }
  const uint64_t stream = splitmix64(seed_ ^ fnv1a(key));
  // Counter-based: element i depends only on (seed, key, i), so the fill can be parallel.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const double u = double(splitmix64(stream + uint64_t(i)) >> 11) * 0x1p-53;  // [0, 1)
    p[i] = center + half_width * float(2.0 * u - 1.0);
  }
  return t;
}

}  // namespace diffnorm::nn
