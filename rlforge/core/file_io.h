// rlforge/core/file_io.h — files that are either whole or absent.
//
// AtomicFile streams into "<path>.tmp"; Commit() flushes it to disk (fsync),
// renames it over <path> and syncs the directory, so a crash at any moment
// leaves either the old file or the new one under the real name, never a
// half-written one. Any failure (a full disk, a read-only directory) throws
// Error naming the file and the system's reason, and removes the temp file;
// an AtomicFile destroyed without Commit() removes it too. Run directories'
// config.yaml, eval.json and every checkpoint are written this way.
#ifndef RLFORGE_CORE_FILE_IO_H_
#define RLFORGE_CORE_FILE_IO_H_

#include <cstddef>
#include <string>

namespace rlforge {

class AtomicFile {
 public:
  // Opens "<path>.tmp" for writing (Error when it cannot be created). A
  // symbolic link is written through (its target is replaced, not the link);
  // a path that is a directory, device, FIFO or socket is an InvalidArgument.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void Write(const void* data, size_t n);
  void Write(const std::string& s) { Write(s.data(), s.size()); }
  // Publishes the file under its real name.
  void Commit();
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void Fail(const char* what);
  std::string path_, tmp_;
  int fd_ = -1;
};

// Writes contents to path atomically (AtomicFile).
void WriteFileAtomically(const std::string& path, const std::string& contents);

// Why a file cannot be written at `path` ("" when it can be, as far as can
// be told before writing): "no directory D", "cannot write in D (...)",
// "it is a directory; name a file" or "it is not a regular file (...)". For checks before long work (an export,
// a recorded episode) that would otherwise fail only at the end.
std::string OutputFileProblem(const std::string& path);

// The whole file; InvalidArgument naming `what` and path when it cannot be
// opened, Error when reading fails.
std::string ReadWholeFile(const std::string& path, const std::string& what);

}  // namespace rlforge

#endif  // RLFORGE_CORE_FILE_IO_H_
