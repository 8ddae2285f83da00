// Bulk conversion between f32, f16 and bf16 storage (dispatched to the best SIMD target).
#include <cstddef>

#include "core/check.h"
#include "diffnorm/dtype.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/convert.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "core/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace diffnorm {
namespace HWY_NAMESPACE {

template <class S, class T>
void ConvertTyped(const void* src_v, void* dst_v, size_t count) {
  const S* src = static_cast<const S*>(src_v);
  T* dst = static_cast<T*>(dst_v);
  const DF d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + 2 * lanes <= count; i += 2 * lanes)
    StoreF32x2(d, LoadF32(d, src + i), LoadF32(d, src + i + lanes), dst + i);
  for (; i + lanes <= count; i += lanes) StoreF32(d, LoadF32(d, src + i), dst + i);
  if (i < count) StoreF32N(d, LoadF32N(d, src + i, count - i), dst + i, count - i);
}

void ConvertFloat(const void* src, DType st, void* dst, DType dt, size_t count) {
  auto to = [&](auto src_tag) {
    using S = decltype(src_tag);
    switch (dt) {
      case DType::F32: return ConvertTyped<S, float>(src, dst, count);
      case DType::F16: return ConvertTyped<S, float16>(src, dst, count);
      case DType::BF16: return ConvertTyped<S, bfloat16>(src, dst, count);
      default: return;
    }
  };
  switch (st) {
    case DType::F32: return to(float{});
    case DType::F16: return to(float16{});
    case DType::BF16: return to(bfloat16{});
    default: return;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace diffnorm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace diffnorm {
HWY_EXPORT(ConvertFloat);

static bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

void convert(const void* src, DType src_type, void* dst, DType dst_type, std::size_t count) {
  DN_CHECK(is_float(src_type) && is_float(dst_type), "convert: only f32/f16/bf16 convert, got {} -> {}",
           dtype_name(src_type), dtype_name(dst_type));
  HWY_DYNAMIC_DISPATCH(ConvertFloat)(src, src_type, dst, dst_type, count);
}
}  // namespace diffnorm
#endif
