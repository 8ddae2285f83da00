// ResNet (torchvision layout and key names) for image classification, on NHWC fp32
// activations. Convolutions and fc run through oneDNN (ops::Conv2d / ops::Linear); every
// BatchNorm through the norm library (batch_norm_forward), in eval or train mode.
//
//   BasicBlock(x)  = relu(bn2(conv2(relu(bn1(conv1(x))))) + identity)
//   Bottleneck(x)  = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + identity)
//   identity = downsample(x) = bn(conv1x1 stride s (x)) when present, else x
// (Bottleneck carries the stride on conv2, torchvision >= 0.x "ResNet v1.5").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diffnorm/norm.h"
#include "models/resnet_config.h"
#include "nn/module_path.h"
#include "ops/conv2d.h"
#include "ops/linear.h"

namespace diffnorm::models {

/// torch.nn.BatchNorm2d's parameters and buffers, named by its module path.
struct BatchNorm2d {
  std::string name;              // "layer2.0.downsample.1"
  Tensor weight, bias;           // γ, β [C] fp32
  Tensor running_mean, running_var;  // [C] fp32, owned: AdaBN rewrites them
  int64_t num_batches_tracked = 0;
  float eps = 1e-5f;
  std::optional<float> momentum = 0.1f;  // nullopt: cumulative average (update_bn)

  int64_t channels() const { return weight.numel(); }
  RunningStats running() {
    return {running_mean.data<float>(), running_var.data<float>(), &num_batches_tracked};
  }
};

/// How one forward treats the BatchNorms.
struct ResNetPass {
  // Train mode: normalise with the batch statistics (biased variance) and update the
  // running ones (unbiased variance, the layer's momentum). Eval: use the running ones.
  bool training = false;
  // Called with each BatchNorm's input (NHWC [N, H, W, C]) just before it normalises, in
  // forward order; it may rewrite the layer's running statistics (exact AdaBN). Returning
  // false ends the pass there: forward() then returns an undefined tensor.
  std::function<bool(BatchNorm2d&, const Tensor&)> before_norm;
};

class ResNet {
 public:
  /// Binds every parameter by its torchvision key; `num_batches_tracked` buffers are
  /// accepted (they are integers: see load()) and start at 0.
  ResNet(ResNetConfig config, nn::WeightSource& weights);
  /// DIR/model.safetensors + DIR/config.json (see ResNetConfig); every key of the file must
  /// be used, `num_batches_tracked` read back as stored.
  static ResNet load(const std::string& model_dir);

  const ResNetConfig& config() const { return config_; }

  /// U8 images [N, H, W, C] -> model input NHWC f32: (float(u8) / 255 - mean[c]) / std[c].
  Tensor preprocess(const Tensor& images) const;
  /// Model input [N, H, W, C] -> logits [N, classes] (undefined when the pass hook ended
  /// the pass early). Non-const: train mode updates the
  /// running statistics, and the pass hook may rewrite them.
  Tensor forward(const Tensor& x, const ResNetPass& pass = {});

  /// Every BatchNorm in forward order (bn1, then per block bn1, bn2[, bn3], downsample.1).
  std::vector<BatchNorm2d*> batch_norms();

  struct ConvBn {
    ops::Conv2d conv;
    BatchNorm2d bn;
  };
  struct Block {
    std::vector<ConvBn> layers;          // conv1/bn1, conv2/bn2[, conv3/bn3]
    std::optional<ConvBn> downsample;    // downsample.0 / downsample.1
  };

 private:
  Tensor forward_layers(const Tensor& x, const ResNetPass& pass);
  Tensor conv_bn(ConvBn& cb, const Tensor& x, const ResNetPass& pass, bool relu);

  ResNetConfig config_;
  ConvBn stem_;
  std::vector<Block> blocks_;  // all stages, in order
  ops::Linear fc_;
  std::unique_ptr<Arena> arena_;  // BatchNorm scratch (a pointer keeps ResNet movable)
};

}  // namespace diffnorm::models
