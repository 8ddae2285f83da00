// A file written atomically: the bytes go to PATH.tmp, which replaces PATH (rename) only
// when commit() has flushed everything to disk; readers never see a half-written file.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

namespace diffnorm {

class AtomicFile {
 public:
  /// Creates PATH.tmp; Error naming it if that fails.
  explicit AtomicFile(std::string path);
  /// Removes PATH.tmp unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::FILE* stream() { return file_; }
  /// Appends bytes; Error on a short write (disk full, I/O error).
  void write(const void* data, std::size_t bytes);
  /// Flushes, syncs, closes and renames PATH.tmp to PATH; Error if any step fails.
  void commit();

 private:
  std::string path_;
  std::string tmp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace diffnorm
