// A whole file mapped into memory with private copy-on-write pages: readable and
// writable, but a write only ever touches this process's copy, never the file.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace diffnorm {

class MappedFile {
 public:
  /// Maps `path` entirely; Error naming the file if it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  MappedFile(std::byte* data, std::size_t size) : data_(data), size_(size) {}
  std::byte* data_;
  std::size_t size_;
};

}  // namespace diffnorm
