#include "models/resnet_config.h"

#include <fmt/ranges.h>

#include "core/check.h"

namespace diffnorm::models {
namespace {

const TensorInfo& require(const SafeTensorsFile& w, const std::string& key, size_t dims) {
  const TensorInfo* t = w.find(key);
  DN_CHECK(t != nullptr, "{}: missing weight '{}' (not a torchvision ResNet state dict?)", w.path(), key);
  DN_CHECK(t->shape.size() == dims, "{}: weight '{}' has shape {}, expected {} dimensions", w.path(), key,
           shape_str(t->shape), dims);
  return *t;
}

std::string stage_prefix(int64_t stage) { return "layer" + std::to_string(stage + 1); }

}  // namespace

ResNetConfig ResNetConfig::infer(const SafeTensorsFile& w) {
  ResNetConfig c;
  const TensorInfo& stem = require(w, "conv1.weight", 4);
  c.stem_channels = stem.shape[0];
  c.in_channels = stem.shape[1];
  c.stem_kernel = stem.shape[2];
  DN_CHECK(stem.shape[2] == stem.shape[3] && (c.stem_kernel == 7 || c.stem_kernel == 3),
           "{}: conv1.weight has shape {}; expected a 7x7 (torchvision) or 3x3 (small-image) stem", w.path(),
           shape_str(stem.shape));
  c.stem_stride = c.stem_kernel == 7 ? 2 : 1;
  c.stem_maxpool = c.stem_kernel == 7;
  c.block = w.contains("layer1.0.conv3.weight") ? ResNetBlock::Bottleneck : ResNetBlock::Basic;

  c.layers.clear();
  c.widths.clear();
  c.out_channels.clear();
  for (int64_t s = 0; w.contains(stage_prefix(s) + ".0.conv1.weight"); ++s) {
    int64_t blocks = 0;
    while (w.contains(stage_prefix(s) + "." + std::to_string(blocks) + ".conv1.weight")) ++blocks;
    const std::string first = stage_prefix(s) + ".0.";
    c.layers.push_back(blocks);
    c.widths.push_back(require(w, first + "conv1.weight", 4).shape[0]);
    const std::string last_conv = c.block == ResNetBlock::Bottleneck ? "conv3.weight" : "conv2.weight";
    c.out_channels.push_back(require(w, first + last_conv, 4).shape[0]);
  }
  DN_CHECK(!c.layers.empty(), "{}: missing weight 'layer1.0.conv1.weight' (no residual stages)", w.path());
  c.layer_strides.assign(c.layers.size(), 2);
  c.layer_strides[0] = 1;

  const TensorInfo& fc = require(w, "fc.weight", 2);
  c.num_classes = fc.shape[0];
  DN_CHECK(fc.shape[1] == c.out_channels.back(), "{}: fc.weight has shape {}, expected [classes, {}]", w.path(),
           shape_str(fc.shape), c.out_channels.back());
  return c;
}

void ResNetConfig::apply_json(const JsonConfig& json) {
  if (json.has("architecture")) {
    const JsonConfig a = json.object("architecture");
    const int64_t expansion = block == ResNetBlock::Bottleneck ? 4 : 1;
    std::vector<int64_t> planes;
    for (int64_t o : out_channels) planes.push_back(o / expansion);
    auto agree = [&](const char* key, const auto& from_json, const auto& from_weights) {
      DN_CHECK(from_json == from_weights, "{}: architecture/{} is {} but the weights have {}", json.origin(), key,
               fmt::format("{}", from_json), fmt::format("{}", from_weights));
    };
    if (a.has("layers")) agree("layers", a.get<std::vector<int64_t>>("layers"), layers);
    if (a.has("widths")) agree("widths", a.get<std::vector<int64_t>>("widths"), planes);
    if (a.has("num_classes")) agree("num_classes", a.get<int64_t>("num_classes"), num_classes);
    if (a.has("layer_strides")) {
      layer_strides = a.get<std::vector<int64_t>>("layer_strides");
      DN_CHECK(layer_strides.size() == layers.size(), "{}: architecture/layer_strides has {} entries, expected {}",
               json.origin(), layer_strides.size(), layers.size());
    }
    stem_stride = a.get_or<int64_t>("stem_stride", stem_stride);
    stem_maxpool = a.get_or<bool>("stem_maxpool", stem_maxpool);
    if (a.has("batchnorm")) {
      const JsonConfig bn = a.object("batchnorm");
      bn_eps = bn.get_or<float>("eps", bn_eps);
      bn_momentum = bn.get_or<float>("momentum", bn_momentum);
    }
  }
  DN_CHECK(json.has("input_normalization"),
           "{}: missing 'input_normalization' {{\"mean\": [...], \"std\": [...]}} (the model input is "
           "(u8/255 - mean) / std per channel)",
           json.origin());
  const JsonConfig n = json.object("input_normalization");
  input_mean = n.get<std::vector<float>>("mean");
  input_std = n.get<std::vector<float>>("std");
  DN_CHECK(int64_t(input_mean.size()) == in_channels && int64_t(input_std.size()) == in_channels,
           "{}: input_normalization mean/std have {}/{} entries, the model has {} input channels", json.origin(),
           input_mean.size(), input_std.size(), in_channels);
  for (float s : input_std) DN_CHECK(s > 0, "{}: input_normalization/std must be positive, found {}", json.origin(), s);
}

}  // namespace diffnorm::models
