// ResNetConfig: the torchvision ResNet family (resnet18/34 with BasicBlock, resnet50/101/152
// and wide variants with Bottleneck), read from the weights' key names and shapes and
// checked against / completed by the model folder's config.json.
//
// torchvision layout: conv1 -> bn1 -> relu -> [maxpool] -> layer1..layerK -> avgpool -> fc.
// Stage k has layers[k] blocks; its first block has stride layer_strides[k] (torchvision:
// 1, 2, 2, 2) and a `downsample` (1x1 conv + BatchNorm) when the stride or the channel count
// changes. The stem is torchvision's (7x7 stride 2 pad 3 + 3x3 stride 2 max-pool) or the
// small-image stem (3x3 stride 1 pad 1, no max-pool).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diffnorm/safetensors.h"
#include "io/json_file.h"

namespace diffnorm::models {

enum class ResNetBlock { Basic, Bottleneck };

struct ResNetConfig {
  ResNetBlock block = ResNetBlock::Basic;
  std::vector<int64_t> layers = {2, 2, 2, 2};           // blocks per stage
  std::vector<int64_t> widths = {64, 128, 256, 512};    // inner width per stage (conv1 of a block)
  std::vector<int64_t> out_channels = {64, 128, 256, 512};  // block output channels per stage
  std::vector<int64_t> layer_strides = {1, 2, 2, 2};    // stride of each stage's first block
  int64_t in_channels = 3;
  int64_t stem_channels = 64;   // conv1 output
  int64_t stem_kernel = 7;      // conv1 kernel; padding = kernel / 2
  int64_t stem_stride = 2;
  bool stem_maxpool = true;     // MaxPool2d(3, stride 2, padding 1) after the stem
  int64_t num_classes = 1000;
  float bn_eps = 1e-5f;
  float bn_momentum = 0.1f;
  // Model input x = (u8 / 255 - mean[c]) / std[c] in float32; one entry per input channel.
  std::vector<float> input_mean;
  std::vector<float> input_std;

  int64_t stages() const { return int64_t(layers.size()); }

  /// Everything the weights determine: block type (layer1.0.conv3 present = Bottleneck),
  /// blocks per stage, widths, stem kernel (7: torchvision stem with max-pool; 3: stride 1,
  /// no max-pool), classes. Error naming the missing key when the layout is not ResNet's.
  static ResNetConfig infer(const SafeTensorsFile& weights);

  /// Reads config.json over an inferred config: "input_normalization" {mean, std} (required),
  /// "architecture" (optional) {layers, widths (torchvision's planes), layer_strides,
  /// num_classes, stem_stride, stem_maxpool, batchnorm {eps, momentum}}; architecture values
  /// that the weights also determine must agree with them (Error naming both otherwise).
  void apply_json(const JsonConfig& json);
};

}  // namespace diffnorm::models
