// Comparison of a model's named outputs with a reference fixture (../shared/fixtures).
//
// Metric, per tensor: max|ours − ref| <= 10 · rel64 · max|ref| + 1e-6, where rel64 is the
// fixture's own float32-vs-float64 error of that tensor (fixtures.json
// models.<m>.f32_vs_f64.<name>.max_rel_to_maxabs): a float32 implementation may differ
// from the float32 oracle by a small multiple of the oracle's own rounding error.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "diffnorm/safetensors.h"

namespace diffnorm::test {

inline std::string shared_dir() { return DN_SHARED_DIR; }
inline std::string fixtures_dir() { return shared_dir() + "/fixtures"; }

/// Checks one tensor with the metric above; prints and returns its error / allowed ratio.
inline double expect_close(const std::string& name, const Tensor& got, const Tensor& ref, double rel64) {
  EXPECT_EQ(got.shape(), ref.shape()) << name << ": shape " << shape_str(got.shape()) << " vs reference "
                                      << shape_str(ref.shape());
  if (got.shape() != ref.shape()) return INFINITY;
  const std::vector<float> a = got.to_vector(), r = ref.to_vector();
  double max_diff = 0, max_ref = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double diff = std::abs(double(a[i]) - double(r[i]));
    max_diff = std::isnan(diff) ? INFINITY : std::max(max_diff, diff);
    max_ref = std::max(max_ref, std::abs(double(r[i])));
  }
  const double allowed = 10 * rel64 * max_ref + 1e-6;
  EXPECT_LE(max_diff, allowed) << name << ": max abs diff " << max_diff << ", max |ref| " << max_ref
                               << ", f32-vs-f64 rel " << rel64;
  return max_diff / allowed;
}

class ModelFixture {
 public:
  /// `model` is the key in fixtures.json ("clip_l", "sd15", "vae", ...).
  explicit ModelFixture(const std::string& model) {
    std::ifstream in(fixtures_dir() + "/fixtures.json");
    if (!in) throw std::runtime_error("fixture summary missing: " + fixtures_dir() + "/fixtures.json");
    const nlohmann::json all = nlohmann::json::parse(in);
    info_ = all.at("models").at(model);
    dir_ = fixtures_dir() + "/" + info_.at("dir").get<std::string>();
    file_ = std::make_unique<SafeTensorsFile>(SafeTensorsFile::open(dir_ + "/fixtures.safetensors"));
  }

  std::string component_dir() const { return dir_ + "/" + info_.at("component").get<std::string>(); }

  /// A stored tensor or the tensor an alias names.
  Tensor get(const std::string& name) const {
    const auto& aliases = info_.at("aliases");
    auto it = aliases.find(name);
    return file_->get(it != aliases.end() ? it->get<std::string>() : name);
  }

  /// Every in.* tensor.
  std::map<std::string, Tensor> inputs() const {
    std::map<std::string, Tensor> in;
    for (auto& [name, _] : info_.at("tensors").items())
      if (name.rfind("in.", 0) == 0) in[name] = get(name);
    return in;
  }

  /// Checks every out.* / act.* tensor of the fixture against `ours`; returns the worst
  /// ratio (error / allowed) seen, for reporting.
  double expect_all_match(const std::map<std::string, Tensor>& ours) const {
    double worst_ratio = 0;
    std::string worst_name;
    int checked = 0;
    for (auto& [name, stats] : info_.at("f32_vs_f64").items()) {
      auto it = ours.find(name);
      EXPECT_TRUE(it != ours.end()) << "model produced no tensor named " << name;
      if (it == ours.end()) continue;
      const Tensor ref = get(name);
      const Tensor& got = it->second;
      const double ratio = expect_close(name, got, ref, stats.at("max_rel_to_maxabs").get<double>());
      ++checked;
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        worst_name = name;
      }
    }
    EXPECT_GT(checked, 0);
    std::printf("[ fixture  ] %d tensors checked; worst: %s at %.2f of its allowed error\n", checked,
                worst_name.c_str(), worst_ratio);
    return worst_ratio;
  }

 private:
  nlohmann::json info_;
  std::string dir_;
  std::unique_ptr<SafeTensorsFile> file_;
};

}  // namespace diffnorm::test
