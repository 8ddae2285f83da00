// The weight change ΔW one patch makes to its module, in float64, with the format's own
// scale applied (the user's weight is not):
//   LoRA  ΔW = (alpha / r) · reshape(up.flatten(1) @ down.flatten(1), W.shape)
//         r = down.shape[0]; no stored alpha -> factor 1. A conv's down is [r, in, kh, kw]
//         (LoCon: the base conv's own kernel), its up [out, r, 1, 1].
//   LoHa  ΔW = (alpha / r) · (w1_a @ w1_b) ⊙ (w2_a @ w2_b),  r = w1_b.shape[0]
//   LoKr  ΔW = scale · kron(w1, w2),  w1 = lokr_w1 or w1_a @ w1_b  ([a, c], the outer block
//         factor), w2 = lokr_w2 or w2_a @ w2_b ([b, d(, kh, kw)]);
//         ΔW[i·b + p, j·d + q, ...] = w1[i, j] · w2[p, q, ...];
//         scale = alpha / r when a factor is stored low-rank (r its inner dim; w2's when
//         both are), 1 when both are full (the stored alpha is then ignored, as kohya's,
//         A1111's and ComfyUI's loaders do).
#pragma once

#include <string>
#include <vector>

#include "weights/lora_file.h"

namespace diffnorm::weights {

/// ΔW of `patch` for a weight of shape `weight_shape` ([out, in] Linear or [out, in, kh, kw]
/// conv), row-major like the weight. Error naming `origin`, the patch, the module's weight
/// shape and the factor shapes when they do not fit.
std::vector<double> lora_delta(const LoraPatch& patch, const Shape& weight_shape, const std::string& origin);

}  // namespace diffnorm::weights
