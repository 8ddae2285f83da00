// Concatenation along the last (channel) axis: for NHWC images this is torch.cat(dim=1)
// of the NCHW view, as the UNet's up blocks join [hidden, skip]:
//   dst[..., 0:Ca] = a[...],  dst[..., Ca:Ca+Cb] = b[...]
// a [..., Ca], b [..., Cb] with equal leading dims; dst [..., Ca+Cb]; f32, contiguous.
#pragma once

#include "diffnorm/tensor.h"

namespace diffnorm::ops {

void concat_channels(const Tensor& a, const Tensor& b, Tensor& dst);
Tensor concat_channels(const Tensor& a, const Tensor& b);

}  // namespace diffnorm::ops
