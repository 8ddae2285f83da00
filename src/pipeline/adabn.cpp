#include "pipeline/adabn.h"

#include <algorithm>
#include <filesystem>

#include "core/check.h"
#include "diffnorm/safetensors.h"

namespace diffnorm::pipeline {

namespace {

void check_compatible(const models::ResNet& model, const ImageSet& set) {
  DN_CHECK(set.images.size(3) == model.config().in_channels, "{}: images have {} channels, the model takes {}",
           set.origin, set.images.size(3), model.config().in_channels);
  DN_CHECK(set.size() > 0, "{}: the image set is empty", set.origin);
}

/// Model input of images [start, start + count).
Tensor input_batch(const models::ResNet& model, const ImageSet& set, int64_t start, int64_t count) {
  return model.preprocess(set.images.narrow(0, start, count));
}

}  // namespace

Tensor classify(models::ResNet& model, const ImageSet& set, int64_t batch) {
  check_compatible(model, set);
  DN_CHECK(batch > 0, "classify: batch size must be positive, got {}", batch);
  const int64_t N = set.size(), K = model.config().num_classes;
  Tensor logits = Tensor::empty({N, K});
  for (int64_t start = 0; start < N; start += batch) {
    const int64_t count = std::min(batch, N - start);
    logits.narrow(0, start, count).copy_from(model.forward(input_batch(model, set, start, count)));
  }
  return logits;
}

Tensor predictions(const Tensor& logits) {
  DN_CHECK(logits.dim() == 2 && logits.dtype() == DType::F32, "predictions: expected f32 logits [N, K], got {}",
           logits.describe());
  const Tensor l = logits.contiguous();
  const int64_t N = l.size(0), K = l.size(1);
  Tensor out = Tensor::empty({N}, DType::I64);
  const float* p = l.data<float>();
  for (int64_t n = 0; n < N; ++n) out.data<int64_t>()[n] = std::max_element(p + n * K, p + (n + 1) * K) - (p + n * K);
  return out;
}

double accuracy(const Tensor& predictions, const Tensor& labels) {
  DN_CHECK(predictions.shape() == labels.shape() && predictions.dtype() == DType::I64 &&
               labels.dtype() == DType::I64 && predictions.dim() == 1 && predictions.numel() > 0,
           "accuracy: predictions {} and labels {} must be I64 [N] of the same N > 0", predictions.describe(),
           labels.describe());
  int64_t correct = 0;
  for (int64_t i = 0; i < labels.numel(); ++i) correct += predictions.item(i) == labels.item(i);
  return double(correct) / double(labels.numel());
}

AdaBNMode parse_adabn_mode(const std::string& name) {
  if (name == "update-bn" || name == "update_bn") return AdaBNMode::UpdateBN;
  if (name == "exact") return AdaBNMode::Exact;
  fail("unknown AdaBN mode '{}': expected 'exact' or 'update-bn'", name);
}

void adabn_update_bn(models::ResNet& model, const ImageSet& target, int64_t batch) {
  check_compatible(model, target);
  DN_CHECK(batch > 0, "adabn update-bn: batch size must be positive, got {}", batch);
  std::vector<std::optional<float>> momenta;
  for (models::BatchNorm2d* bn : model.batch_norms()) {
    momenta.push_back(bn->momentum);
    bn->momentum = std::nullopt;  // cumulative average: f = 1 / num_batches_tracked
    reset_running_stats(bn->running(), bn->channels());
  }
  models::ResNetPass train;
  train.training = true;
  const int64_t N = target.size();
  for (int64_t start = 0; start < N; start += batch)
    model.forward(input_batch(model, target, start, std::min(batch, N - start)), train);
  size_t i = 0;
  for (models::BatchNorm2d* bn : model.batch_norms()) bn->momentum = momenta[i++];
}

namespace {

PopulationStats finalize_into(models::BatchNorm2d& bn, const BatchNormStatsAccumulator& acc) {
  acc.finalize(bn.running_mean.data<float>(), bn.running_var.data<float>());
  return {bn.name, acc.count(), acc.mean(), acc.variance(false), acc.variance(true)};
}

}  // namespace

std::vector<PopulationStats> adabn_exact(models::ResNet& model, const ImageSet& target, int64_t batch) {
  check_compatible(model, target);
  DN_CHECK(batch > 0, "adabn exact: batch size must be positive, got {}", batch);
  const int64_t N = target.size();
  std::vector<PopulationStats> out;
  if (batch >= N) {
    // One pass, the whole target as one batch: each BN measures its input, takes the
    // statistics as its running ones, then normalises with them (eval mode).
    models::ResNetPass pass;
    pass.before_norm = [&](models::BatchNorm2d& bn, const Tensor& x) {
      BatchNormStatsAccumulator acc(bn.channels());
      acc.add(x, Layout::NHWC);
      out.push_back(finalize_into(bn, acc));
      return true;
    };
    model.forward(input_batch(model, target, 0, N), pass);
    return out;
  }
  // One pass per BN k, ended at BN k: its input over all batches, earlier BNs recalibrated.
  for (models::BatchNorm2d* layer : model.batch_norms()) {
    BatchNormStatsAccumulator acc(layer->channels());
    models::ResNetPass pass;
    pass.before_norm = [&](models::BatchNorm2d& bn, const Tensor& x) {
      if (&bn != layer) return true;
      acc.add(x, Layout::NHWC);
      return false;
    };
    for (int64_t start = 0; start < N; start += batch)
      model.forward(input_batch(model, target, start, std::min(batch, N - start)), pass);
    out.push_back(finalize_into(*layer, acc));
  }
  return out;
}

void save_recalibrated(models::ResNet& model, const std::string& model_dir, const std::string& out_dir,
                       const std::map<std::string, std::string>& metadata) {
  namespace fs = std::filesystem;
  const fs::path src(model_dir), dst(out_dir);
  DN_CHECK(fs::absolute(src).lexically_normal() != fs::absolute(dst).lexically_normal(),
           "the output folder '{}' is the model folder itself; choose another", out_dir);
  const SafeTensorsFile file = SafeTensorsFile::open((src / "model.safetensors").string());
  std::map<std::string, Tensor> buffers;
  for (models::BatchNorm2d* bn : model.batch_norms()) {
    buffers[bn->name + ".running_mean"] = bn->running_mean;
    buffers[bn->name + ".running_var"] = bn->running_var;
    Tensor counter = Tensor::empty({}, DType::I64);
    counter.data<int64_t>()[0] = bn->num_batches_tracked;
    buffers[bn->name + ".num_batches_tracked"] = counter;
  }
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const TensorInfo& info : file.tensors()) {
    const auto it = buffers.find(info.name);
    if (it == buffers.end()) {
      tensors.emplace_back(info.name, file.get(info.name));
      continue;
    }
    DN_CHECK(shape_numel(info.shape) == it->second.numel(), "{}: '{}' has shape {}, the model's buffer is {}",
             file.path(), info.name, shape_str(info.shape), it->second.describe());
    // Same dtype and shape as stored (a counter saved as [1] stays [1]).
    Tensor t = it->second.dtype() == info.dtype ? it->second : it->second.to(info.dtype);
    tensors.emplace_back(info.name, t.reshape(info.shape));
  }
  std::map<std::string, std::string> meta = file.metadata();
  for (const auto& [k, v] : metadata) meta[k] = v;
  std::error_code ec;
  fs::create_directories(dst, ec);
  DN_CHECK(!ec && fs::is_directory(dst), "cannot create the output folder '{}': {}", out_dir, ec.message());
  save_safetensors((dst / "model.safetensors").string(), tensors, meta);
  fs::copy_file(src / "config.json", dst / "config.json", fs::copy_options::overwrite_existing, ec);
  DN_CHECK(!ec, "cannot copy {} to {}: {}", (src / "config.json").string(), out_dir, ec.message());
}

}  // namespace diffnorm::pipeline
