#include "rlforge/core/checkpoint_file.h"

#include <array>
#include <filesystem>
#include <vector>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

constexpr char kMagic[8] = {'R', 'L', 'F', 'C', 'K', 'P', 'T', '2'};
constexpr uint32_t kEnd = 0xFFFFFFFFu;

const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

template <typename T>
void Put(AtomicFile& f, T v) {
  f.Write(&v, sizeof(T));
}

}  // namespace

uint32_t Crc32(const void* data, size_t n, uint32_t crc) {
  const auto& table = CrcTable();
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

CheckpointWriter::CheckpointWriter(const std::string& path) : file_(path) { file_.Write(kMagic, sizeof(kMagic)); }

void CheckpointWriter::Bytes(const std::string& name, std::string* bytes) {
  RLF_CHECK(names_.insert(name).second, "checkpoint field '", name, "' is written twice");
  Put(file_, static_cast<uint32_t>(name.size()));
  file_.Write(name);
  Put(file_, static_cast<uint64_t>(bytes->size()));
  file_.Write(*bytes);
  Put(file_, Crc32(bytes->data(), bytes->size()));
}

void CheckpointWriter::Commit() {
  Put(file_, kEnd);
  Put(file_, static_cast<uint64_t>(names_.size()));
  file_.Commit();
}

CheckpointReader::CheckpointReader(const std::string& path) : path_(path) {
  RLF_CHECK_ARG(std::filesystem::is_regular_file(path), "checkpoint '", path, "' does not exist");
  const std::string data = ReadWholeFile(path, "checkpoint");
  auto fail = [&](const std::string& why) {
    throw Error(StrCat("checkpoint ", path, " cannot be read (", why, ")"));
  };
  if (data.size() >= 4 && data.compare(0, 4, "PK\x03\x04") == 0)
    fail("it was written by an earlier rlforge as a torch archive; this version's checkpoints have another "
         "format: train the run again");
  if (data.size() < sizeof(kMagic) || data.compare(0, sizeof(kMagic), kMagic, sizeof(kMagic)) != 0)
    fail("not an rlforge checkpoint, or corrupt");
  size_t pos = sizeof(kMagic);
  auto take = [&](void* out, size_t n) {
    if (data.size() - pos < n) fail("truncated");
    std::memcpy(out, data.data() + pos, n);
    pos += n;
  };
  for (;;) {
    uint32_t name_size = 0;
    take(&name_size, sizeof(name_size));
    if (name_size == kEnd) {
      uint64_t count = 0;
      take(&count, sizeof(count));
      if (count != fields_.size()) fail("corrupt: wrong field count");
      if (pos != data.size()) fail("corrupt: bytes after the end");
      return;
    }
    if (name_size > 4096) fail("corrupt field name");
    std::string name(name_size, '\0');
    take(name.data(), name_size);
    uint64_t size = 0;
    take(&size, sizeof(size));
    if (size > data.size() - pos) fail("truncated");
    std::string bytes = data.substr(pos, size);
    pos += size;
    uint32_t crc = 0;
    take(&crc, sizeof(crc));
    if (crc != Crc32(bytes.data(), bytes.size())) fail(StrCat("corrupt: field '", name, "' fails its checksum"));
    if (!fields_.emplace(std::move(name), std::move(bytes)).second) fail("corrupt: a field appears twice");
  }
}

void CheckpointReader::Bytes(const std::string& name, std::string* bytes) {
  auto it = fields_.find(name);
  RLF_CHECK(it != fields_.end(), "checkpoint ", path_, " has no field '", name,
            "' (written by another configuration, or by an earlier rlforge that did not keep it)");
  *bytes = it->second;
  read_.insert(name);
}

void CheckpointReader::ExpectAllRead(const std::string& ignored_prefix) const {
  std::vector<std::string> extra;
  for (const auto& [name, bytes] : fields_) {
    if (read_.count(name)) continue;
    if (!ignored_prefix.empty() && name.rfind(ignored_prefix, 0) == 0) continue;
    extra.push_back(name);
  }
  RLF_CHECK(extra.empty(), "checkpoint ", path_, " has fields this agent does not read (", Join(extra, ", "),
            "): written by another agent or configuration");
}

}  // namespace rlforge
