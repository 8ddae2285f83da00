#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/check.h"

namespace diffnorm {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_path_(path_ + ".tmp") {
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  DN_CHECK(file_ != nullptr, "{}: cannot create: {}", tmp_path_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) std::remove(tmp_path_.c_str());
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  DN_CHECK(file_ != nullptr, "{}: write after close", tmp_path_);
  if (bytes == 0) return;
  DN_CHECK(std::fwrite(data, 1, bytes, file_) == bytes, "{}: write of {} bytes failed: {}", tmp_path_, bytes,
           std::strerror(errno));
}

void AtomicFile::commit() {
  DN_CHECK(file_ != nullptr, "{}: committed twice", tmp_path_);
  const bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int flush_errno = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  DN_CHECK(flushed && closed, "{}: flushing to disk failed: {}", tmp_path_, std::strerror(flush_errno));
  DN_CHECK(std::rename(tmp_path_.c_str(), path_.c_str()) == 0, "cannot rename {} to {}: {}", tmp_path_, path_,
           std::strerror(errno));
  committed_ = true;
}

}  // namespace diffnorm
