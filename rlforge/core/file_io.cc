#include "rlforge/core/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

void FsyncDirectoryOf(const std::string& path) {
  const auto dir = std::filesystem::path(path).parent_path();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(StrCat("cannot write ", tmp_, ": ", std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::Fail(const char* what) {
  const std::string reason = std::strerror(errno);
  ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  throw Error(StrCat("cannot ", what, " ", tmp_, ": ", reason, " (", path_, " is left as it was)"));
}

void AtomicFile::Write(const void* data, size_t n) {
  RLF_CHECK(fd_ >= 0, "AtomicFile: ", path_, " is already committed");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      Fail("write");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::Commit() {
  RLF_CHECK(fd_ >= 0, "AtomicFile: ", path_, " is already committed");
  if (::fsync(fd_) != 0) Fail("flush");
  if (::close(fd_) != 0) {
    fd_ = -1;
    const std::string reason = std::strerror(errno);
    ::unlink(tmp_.c_str());
    throw Error(StrCat("cannot write ", tmp_, ": ", reason, " (", path_, " is left as it was)"));
  }
  fd_ = -1;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp_.c_str());
    throw Error(StrCat("cannot rename ", tmp_, " to ", path_, ": ", reason));
  }
  FsyncDirectoryOf(path_);
}

void WriteFileAtomically(const std::string& path, const std::string& contents) {
  AtomicFile f(path);
  f.Write(contents);
  f.Commit();
}

std::string ReadWholeFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  RLF_CHECK_ARG(!std::filesystem::is_directory(path, ec), what, " '", path, "' is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  RLF_CHECK_ARG(f.good(), "cannot read ", what, " '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  RLF_CHECK(!f.bad(), "cannot read ", what, " '", path, "'");
  return ss.str();
}

std::string OutputFileProblem(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return "no directory " + dir.string();
  if (::access(dir.c_str(), W_OK) != 0) return "cannot write in " + dir.string() + " (" + std::strerror(errno) + ")";
  if (std::filesystem::is_directory(path, ec)) return "it is a directory; name a file";
  return "";
}

}  // namespace rlforge
