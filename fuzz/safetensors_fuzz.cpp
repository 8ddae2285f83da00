// libFuzzer target: any byte string given to SafeTensorsFile::parse either is rejected
// with diffnorm::Error or yields tensors whose views lie inside the input and agree with
// their descriptions. Anything else (a crash, a sanitizer report, another exception, a
// broken invariant) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "diffnorm/safetensors.h"

namespace {

void require(bool invariant) {
  if (!invariant) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace diffnorm;
  try {
    const SafeTensorsFile file = SafeTensorsFile::parse(data, size, "fuzz");
    uint64_t previous_end = 0;
    for (const TensorInfo& info : file.tensors()) {
      require(info.begin == previous_end);  // dense, ordered data section
      previous_end = info.end;
      const Tensor t = file.get(info.name);
      require(t.shape() == info.shape && t.dtype() == info.dtype);
      require(t.nbytes() == info.end - info.begin);
      // Touch every byte of the view (ASan reports any that lie outside the buffer) and
      // compare it with the input at the tensor's position.
      volatile unsigned char sink = 0;
      const auto* bytes = static_cast<const unsigned char*>(t.raw());
      for (std::size_t i = 0; i < t.nbytes(); ++i) sink = sink ^ bytes[i];
      require(file.contains(info.name) && file.find(info.name) == &info);
    }
    // The data section ends exactly at the end of the input.
    if (!file.tensors().empty()) {
      const TensorInfo& last = file.tensors().back();
      const Tensor t = file.get(last.name);
      if (t.nbytes() > 0) {
        require(std::memcmp(t.raw(), data + size - t.nbytes(), t.nbytes()) == 0);
      }
    }
    for (const auto& [key, value] : file.metadata()) require(key.size() + value.size() < size);
  } catch (const Error&) {
    // The one allowed way to reject an input.
  }
  return 0;
}
