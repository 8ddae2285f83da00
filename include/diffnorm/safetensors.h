// safetensors files: a strict reader over mmap with zero-copy tensor views, and a writer.
//
// Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the byte
// after the header) plus an optional "__metadata__" object of string values, then the data.
// Every structural defect is an Error naming the file and the defect.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diffnorm/tensor.h"

namespace diffnorm {

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

class SafeTensorsFile {
 public:
  /// Maps the file read-only (private copy-on-write pages) and validates the whole header.
  static SafeTensorsFile open(const std::string& path);
  /// Validates an in-memory image (copied); `origin` names it in error messages.
  static SafeTensorsFile parse(const void* data, std::size_t size, std::string origin = "<memory>");

  const std::string& path() const { return origin_; }
  /// Tensors in data-offset order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  const TensorInfo* find(std::string_view name) const;
  /// Zero-copy view of a tensor (keeps the mapping alive); Error if the name is absent.
  /// A tensor whose offset leaves it misaligned for its dtype (legal in the format) is
  /// returned as an aligned copy instead.
  Tensor get(std::string_view name) const;

 private:
  std::string origin_;
  std::shared_ptr<const void> mapping_;  // owns the mapped (or copied) bytes
  const std::byte* data_ = nullptr;      // start of the data section
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

/// Writes tensors (any strides; stored contiguous, in the given order) and metadata.
/// Written atomically: to PATH.tmp, then renamed.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace diffnorm
