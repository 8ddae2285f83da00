// AdaBN (Li et al. 2016): adapt a BatchNorm network to a target domain by re-estimating
// every BatchNorm's running statistics on target images, weights unchanged. Two modes:
//
//  update_bn (torch.optim.swa_utils.update_bn): every BN's running mean/var := 0/1, counter
//    := 0, momentum := None; train-mode forwards over the target in batches (stored order),
//    so each BN's running statistics become the equal-weight average over batches of the
//    batch means and UNBIASED batch variances, measured on activations that the earlier BNs
//    normalised with batch statistics. Momentum is restored afterwards.
//  exact: layer by layer in forward order, eval mode: BN k's running mean/var := the mean
//    and BIASED variance over all target images (N·H·W values per channel) of its input,
//    computed with BNs 0..k-1 already recalibrated. num_batches_tracked is left unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/resnet.h"
#include "pipeline/adabn_dataset.h"

namespace diffnorm::pipeline {

/// Eval-mode logits [N, classes] of every image of the set, `batch` images at a time.
Tensor classify(models::ResNet& model, const ImageSet& set, int64_t batch = 64);
/// argmax of each row of logits [N, K] (first maximum on ties) -> I64 [N].
Tensor predictions(const Tensor& logits);
/// Fraction of predictions equal to the labels (both I64 [N]).
double accuracy(const Tensor& predictions, const Tensor& labels);

enum class AdaBNMode { UpdateBN, Exact };
/// "update-bn" (or "update_bn") / "exact"; Error listing the choices otherwise.
AdaBNMode parse_adabn_mode(const std::string& name);

/// Per-BatchNorm result of the exact mode, in double before rounding to the fp32 buffers.
struct PopulationStats {
  std::string name;
  double count = 0;  // values per channel (N·H·W)
  std::vector<double> mean, var_biased, var_unbiased;
};

/// Mode update_bn over the target in batches of `batch` (the last may be smaller).
void adabn_update_bn(models::ResNet& model, const ImageSet& target, int64_t batch = 64);
/// Mode exact. batch >= N: one eval pass over the whole target as a single batch, each BN's
/// statistics replaced just before it normalises (memory: the whole set's activations).
/// Smaller batches: one truncated pass over the target per BN (memory: one batch).
std::vector<PopulationStats> adabn_exact(models::ResNet& model, const ImageSet& target, int64_t batch = 64);

/// Writes OUT_DIR/model.safetensors, every tensor of MODEL_DIR/model.safetensors with the
/// same name, order and dtype, the BatchNorm buffers (running_mean, running_var,
/// num_batches_tracked) taken from `model`, plus `metadata` added to the file's own, and
/// copies MODEL_DIR/config.json to OUT_DIR.
void save_recalibrated(models::ResNet& model, const std::string& model_dir, const std::string& out_dir,
                       const std::map<std::string, std::string>& metadata);

}  // namespace diffnorm::pipeline
