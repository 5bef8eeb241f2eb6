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

// The file a write to `path` means: a symbolic link's target, as a shell's
// `>` writes through a link (renaming over the link would replace it).
std::string ResolveLinks(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  return p.string();
}

// Why `path`, when it exists, is not a file a write may replace: "" for a
// regular file or nothing there.
std::string NotAFile(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st) || fs::is_regular_file(st)) return "";
  return fs::is_directory(st) ? "it is a directory; name a file"
                              : "it is not a regular file (a device, FIFO or socket); name a file";
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(ResolveLinks(path)), tmp_(path_ + ".tmp") {
  // Renaming the written file over a device or FIFO would replace it (as root, even /dev/full).
  if (const std::string why = NotAFile(path_); !why.empty())
    throw InvalidArgument(StrCat("cannot write ", path, ": ", why));
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

std::string OutputFileProblem(const std::string& path_given) {
  const std::string path = ResolveLinks(path_given);  // where AtomicFile will write (its .tmp too)
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return "no directory " + dir.string();
  if (::access(dir.c_str(), W_OK) != 0) return "cannot write in " + dir.string() + " (" + std::strerror(errno) + ")";
  return NotAFile(path);
}

}  // namespace rlforge
