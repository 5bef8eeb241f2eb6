// rlforge/core/checkpoint_file.h — checkpoint files: named fields, written
// atomically, each with a checksum.
//
// Layout (little-endian, this build's own format):
//   "RLFCKPT2"                                   8 bytes of magic
//   per field: u32 name length, name, u64 data length, data, u32 CRC-32(data)
//   end:       u32 0xFFFFFFFF, u64 number of fields
// CheckpointWriter streams the fields into an AtomicFile (rlforge/core/file_io.h)
// as an agent's VisitState visits them; Commit() publishes the file. Any
// failure leaves the previous checkpoint under that name as it was.
// CheckpointReader reads and checks the whole file up front: a file that is
// not a checkpoint, is truncated or has a field whose checksum does not match
// throws Error ("... cannot be read ..."); a checkpoint of an earlier rlforge
// (a torch archive) says so. Reading a field that is absent throws Error
// naming it; ExpectAllRead() rejects fields nobody asked for (a checkpoint of
// another agent or configuration).
#ifndef RLFORGE_CORE_CHECKPOINT_FILE_H_
#define RLFORGE_CORE_CHECKPOINT_FILE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "rlforge/core/file_io.h"
#include "rlforge/core/state_io.h"

namespace rlforge {

// CRC-32 (IEEE 802.3, as zlib's crc32) of n bytes, continuing from crc.
uint32_t Crc32(const void* data, size_t n, uint32_t crc = 0);

class CheckpointWriter : public StateVisitor {
 public:
  explicit CheckpointWriter(const std::string& path);
  bool loading() const override { return false; }
  void Bytes(const std::string& name, std::string* bytes) override;
  void Commit();

 private:
  AtomicFile file_;
  std::set<std::string> names_;
};

class CheckpointReader : public StateVisitor {
 public:
  // Reads and checks the file (InvalidArgument when it does not exist).
  explicit CheckpointReader(const std::string& path);
  bool loading() const override { return true; }
  void Bytes(const std::string& name, std::string* bytes) override;
  // Throws Error listing the fields that were stored but never read, except
  // those whose names start with `ignored_prefix` (when not empty).
  void ExpectAllRead(const std::string& ignored_prefix = "") const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, std::string> fields_;
  std::set<std::string> read_;
};

}  // namespace rlforge

#endif  // RLFORGE_CORE_CHECKPOINT_FILE_H_
