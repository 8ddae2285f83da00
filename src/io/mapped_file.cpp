#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/check.h"

namespace diffnorm {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  DN_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    fail("{}: not a regular file{}", path, err ? fmt::format(" ({})", std::strerror(err)) : "");
  }
  const std::size_t size = std::size_t(st.st_size);
  void* p = nullptr;
  if (size > 0) {  // mmap of zero bytes is an error; an empty file maps to nothing
    p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail("{}: cannot map {} bytes: {}", path, size, std::strerror(err));
    }
  }
  ::close(fd);  // the mapping keeps its own reference to the file
  return std::shared_ptr<MappedFile>(new MappedFile(static_cast<std::byte*>(p), size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace diffnorm
