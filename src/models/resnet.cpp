#include "models/resnet.h"

#include <filesystem>

#include "core/check.h"
#include "models/resnet_ops.h"

namespace diffnorm::models {
namespace {

struct PassEnded {};  // thrown by conv_bn when the pass hook ends the pass, caught by forward

BatchNorm2d bind_bn(const nn::ModulePath& p, int64_t channels, const ResNetConfig& c) {
  BatchNorm2d bn;
  bn.name = p.path();
  bn.weight = p.param("weight", {channels});
  bn.bias = p.param("bias", {channels});
  // Owned copies: AdaBN rewrites the running statistics (the file's pages stay untouched).
  bn.running_mean = p.param("running_mean", {channels}).clone();
  bn.running_var = p.param("running_var", {channels}).clone();
  p.ignore("num_batches_tracked");  // int64 buffer, read by ResNet::load
  bn.eps = c.bn_eps;
  bn.momentum = c.bn_momentum;
  return bn;
}

ResNet::ConvBn bind_conv_bn(const nn::ModulePath& conv, const nn::ModulePath& bn, int64_t in, int64_t out,
                            int64_t kernel, int64_t stride, const ResNetConfig& c) {
  return {ops::Conv2d(conv.param("weight", {out, in, kernel, kernel}), Tensor(),
                      ops::Conv2dOptions::symmetric(kernel / 2, stride)),
          bind_bn(bn, out, c)};
}

}  // namespace

ResNet::ResNet(ResNetConfig config, nn::WeightSource& weights)
    : config_(std::move(config)),
      stem_(bind_conv_bn(nn::ModulePath(weights) / "conv1", nn::ModulePath(weights) / "bn1", config_.in_channels,
                         config_.stem_channels, config_.stem_kernel, config_.stem_stride, config_)),
      fc_(weights.get("fc.weight", {config_.num_classes, config_.out_channels.back()}),
          weights.get("fc.bias", {config_.num_classes})),
      arena_(std::make_unique<Arena>()) {
  const nn::ModulePath root(weights);
  const bool bottleneck = config_.block == ResNetBlock::Bottleneck;
  int64_t in = config_.stem_channels;
  for (int64_t s = 0; s < config_.stages(); ++s) {
    const int64_t width = config_.widths[s], out = config_.out_channels[s];
    for (int64_t b = 0; b < config_.layers[s]; ++b) {
      const nn::ModulePath p = root / ("layer" + std::to_string(s + 1)) / b;
      const int64_t stride = b == 0 ? config_.layer_strides[s] : 1;
      Block block;
      if (bottleneck) {
        block.layers.push_back(bind_conv_bn(p / "conv1", p / "bn1", in, width, 1, 1, config_));
        block.layers.push_back(bind_conv_bn(p / "conv2", p / "bn2", width, width, 3, stride, config_));
        block.layers.push_back(bind_conv_bn(p / "conv3", p / "bn3", width, out, 1, 1, config_));
      } else {
        block.layers.push_back(bind_conv_bn(p / "conv1", p / "bn1", in, width, 3, stride, config_));
        block.layers.push_back(bind_conv_bn(p / "conv2", p / "bn2", width, out, 3, 1, config_));
      }
      if (stride != 1 || in != out)
        block.downsample = bind_conv_bn(p / "downsample" / 0, p / "downsample" / 1, in, out, 1, stride, config_);
      blocks_.push_back(std::move(block));
      in = out;
    }
  }
}

ResNet ResNet::load(const std::string& model_dir) {
  const std::filesystem::path dir(model_dir);
  const std::string weights_path = (dir / "model.safetensors").string();
  const std::string config_path = (dir / "config.json").string();
  DN_CHECK(std::filesystem::is_directory(dir), "model folder '{}' does not exist (expected a folder with "
           "model.safetensors and config.json)", model_dir);
  DN_CHECK(std::filesystem::exists(weights_path), "model folder '{}' has no model.safetensors", model_dir);
  DN_CHECK(std::filesystem::exists(config_path),
           "model folder '{}' has no config.json (needed for input_normalization mean/std)", model_dir);
  const SafeTensorsFile file = SafeTensorsFile::open(weights_path);
  ResNetConfig config = ResNetConfig::infer(file);
  config.apply_json(JsonConfig::load(config_path));
  nn::SafeTensorsWeights weights({weights_path});
  ResNet net(std::move(config), weights);
  weights.check_all_used();
  for (BatchNorm2d* bn : net.batch_norms()) {
    const std::string key = bn->name + ".num_batches_tracked";
    if (!file.contains(key)) continue;
    const Tensor t = file.get(key);
    DN_CHECK(t.dtype() == DType::I64 && t.numel() == 1, "{}: '{}' is {}, expected an I64 scalar", weights_path, key,
             t.describe());
    bn->num_batches_tracked = int64_t(t.item(0));
  }
  return net;
}

Tensor ResNet::preprocess(const Tensor& images) const {
  DN_CHECK(images.dtype() == DType::U8 && images.dim() == 4 && images.size(3) == config_.in_channels,
           "ResNet input: expected U8 images [N, H, W, {}], got {}", config_.in_channels, images.describe());
  const Tensor src = images.contiguous();
  Tensor x = Tensor::empty(src.shape());
  const uint8_t* p = src.data<uint8_t>();
  float* q = x.data<float>();
  const int64_t C = config_.in_channels, n = src.numel();
  // float32, in this order (as torch: u8.float() / 255, then - mean, then / std).
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) q[i] = (float(p[i]) / 255.0f - config_.input_mean[i % C]) / config_.input_std[i % C];
  return x;
}

Tensor ResNet::conv_bn(ConvBn& cb, const Tensor& x, const ResNetPass& pass, bool relu) {
  Tensor y = cb.conv.forward(x);
  BatchNorm2d& bn = cb.bn;
  if (pass.before_norm && !pass.before_norm(bn, y)) throw PassEnded{};
  const NormShape shape{y.size(0), y.size(3), y.size(1) * y.size(2), Layout::NHWC};
  ForwardIO io;
  io.x = y.raw();
  io.y = y.raw();  // in place
  io.gamma = bn.weight.data<float>();
  io.beta = bn.bias.data<float>();
  batch_norm_forward(shape, {bn.eps, bn.momentum, pass.training}, bn.running(), io, *arena_);
  arena_->reset();
  if (relu) relu_(y);
  return y;
}

Tensor ResNet::forward(const Tensor& x, const ResNetPass& pass) {
  DN_CHECK(x.dtype() == DType::F32 && x.dim() == 4 && x.size(3) == config_.in_channels && x.is_contiguous(),
           "ResNet::forward: expected contiguous f32 [N, H, W, {}], got {}", config_.in_channels, x.describe());
  try {
    return forward_layers(x, pass);
  } catch (const PassEnded&) {
    return Tensor();
  }
}

Tensor ResNet::forward_layers(const Tensor& x, const ResNetPass& pass) {
  Tensor h = conv_bn(stem_, x, pass, true);
  if (config_.stem_maxpool) h = max_pool_3x3_s2(h);
  for (Block& block : blocks_) {
    Tensor out = h;
    for (size_t i = 0; i < block.layers.size(); ++i) out = conv_bn(block.layers[i], out, pass, i + 1 < block.layers.size());
    // torchvision order: the main branch, then the downsample branch, then the join.
    const Tensor identity = block.downsample ? conv_bn(*block.downsample, h, pass, false) : h;
    add_relu_(out, identity);
    h = std::move(out);
  }
  return fc_.forward(global_avg_pool(h));
}

std::vector<BatchNorm2d*> ResNet::batch_norms() {
  std::vector<BatchNorm2d*> out{&stem_.bn};
  for (Block& block : blocks_) {
    for (ConvBn& cb : block.layers) out.push_back(&cb.bn);
    if (block.downsample) out.push_back(&block.downsample->bn);
  }
  return out;
}

}  // namespace diffnorm::models
