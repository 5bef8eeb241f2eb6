#include "rlforge/train/tensorboard.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "rlforge/core/error.h"
#include "rlforge/core/file_io.h"
#include "rlforge/core/warning.h"

namespace rlforge {
namespace {

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutFixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutBytesField(std::string* out, int field, const std::string& bytes) {
  PutVarint(out, static_cast<uint64_t>(field) << 3 | 2);
  PutVarint(out, bytes.size());
  out->append(bytes);
}

std::string EventHeader(double wall_time, int64_t step) {
  std::string e;
  uint64_t bits;
  std::memcpy(&bits, &wall_time, 8);
  e.push_back(0x09);  // field 1, fixed64
  PutFixed64(&e, bits);
  e.push_back(0x10);  // field 2, varint
  PutVarint(&e, static_cast<uint64_t>(step));
  return e;
}

uint64_t GetFixed(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s[pos + i])) << (8 * i);
  return v;
}

// Reads a varint at *pos; false when it runs past the end.
bool GetVarint(const std::string& s, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < s.size(); shift += 7) {
    const auto b = static_cast<uint8_t>(s[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// The step (field 2) of a serialized Event; 0 when absent.
int64_t EventStep(const std::string& e) {
  size_t pos = 0;
  while (pos < e.size()) {
    uint64_t key = 0, v = 0;
    if (!GetVarint(e, &pos, &key)) break;
    switch (key & 7) {
      case 0:
        if (!GetVarint(e, &pos, &v)) return 0;
        if ((key >> 3) == 2) return static_cast<int64_t>(v);
        break;
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      case 2:
        if (!GetVarint(e, &pos, &v) || v > e.size() - pos) return 0;
        pos += v;
        break;
      default: return 0;
    }
  }
  return 0;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

uint32_t Crc32c(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = MakeCrcTable();
  uint32_t c = 0xFFFFFFFFu;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t MaskedCrc32c(const void* data, size_t n) {
  const uint32_t crc = Crc32c(data, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::vector<std::pair<int64_t, std::string>> ReadEventRecords(const std::string& path) {
  const std::string data = ReadWholeFile(path, "TensorBoard event file");
  std::vector<std::pair<int64_t, std::string>> out;
  size_t pos = 0;
  while (pos + 12 <= data.size()) {
    const uint64_t n = GetFixed(data, pos, 8);
    if (static_cast<uint32_t>(GetFixed(data, pos + 8, 4)) != MaskedCrc32c(data.data() + pos, 8)) break;
    if (n > data.size() - pos - 12 || data.size() - pos - 12 - n < 4) break;
    std::string payload = data.substr(pos + 12, n);
    if (static_cast<uint32_t>(GetFixed(data, pos + 12 + n, 4)) != MaskedCrc32c(payload.data(), payload.size())) break;
    out.emplace_back(EventStep(payload), std::move(payload));
    pos += 12 + n + 4;
  }
  return out;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir, std::optional<int64_t> resume_step) {
  if (resume_step) {
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0 && e.is_regular_file())
        files.push_back(e.path().string());
    // Names hold the creation time: the last one is the newest file.
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string kept;
      const auto records = ReadEventRecords(f);
      size_t kept_records = 0;
      for (const auto& [step, payload] : records) {
        if (step > *resume_step) continue;
        ++kept_records;
        std::string rec;
        PutFixed64(&rec, payload.size());
        PutFixed32(&rec, MaskedCrc32c(rec.data(), 8));
        rec.append(payload);
        PutFixed32(&rec, MaskedCrc32c(payload.data(), payload.size()));
        kept += rec;
      }
      // Rewritten only when something goes (or a record was cut short).
      if (kept_records < records.size() || kept.size() != fs::file_size(f)) WriteFileAtomically(f, kept);
    }
    if (!files.empty()) {
      path_ = files.back();
      file_ = std::fopen(path_.c_str(), "ab");
      RLF_CHECK(file_ != nullptr, "cannot append to TensorBoard event file ", path_);
      return;
    }
    // As for a missing progress.csv (the history went without a word).
    if (*resume_step > 0)
      Warn(StrCat(dir, " has no TensorBoard event file: its scalars up to step ", *resume_step,
                  " are lost, and a new file starts there"));
  }
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  const double now = Now();
  path_ = StrCat(dir, "/events.out.tfevents.", static_cast<int64_t>(now), ".", host);
  file_ = std::fopen(path_.c_str(), "ab");
  RLF_CHECK(file_ != nullptr, "cannot create TensorBoard event file ", path_);
  std::string e = EventHeader(now, 0);
  PutBytesField(&e, 3, "brain.Event:2");
  WriteRecord(e);
  Flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::WriteRecord(const std::string& payload) {
  std::string rec;
  PutFixed64(&rec, payload.size());
  const uint32_t len_crc = MaskedCrc32c(rec.data(), 8);
  PutFixed32(&rec, len_crc);
  rec.append(payload);
  PutFixed32(&rec, MaskedCrc32c(payload.data(), payload.size()));
  RLF_CHECK(std::fwrite(rec.data(), 1, rec.size(), file_) == rec.size(), "cannot write ", path_);
}

void TensorBoardWriter::AddScalar(const std::string& tag, double value, int64_t step) {
  std::string v;
  PutBytesField(&v, 1, tag);
  v.push_back(0x15);  // field 2, fixed32
  float f = static_cast<float>(value);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  PutFixed32(&v, bits);
  std::string summary;
  PutBytesField(&summary, 1, v);
  std::string e = EventHeader(Now(), step);
  PutBytesField(&e, 5, summary);
  WriteRecord(e);
}

void TensorBoardWriter::Flush() {
  // fwrite only buffers: a full disk shows here, and must stop the run.
  RLF_CHECK(std::fflush(file_) == 0 && !std::ferror(file_), "cannot write ", path_, ": ", std::strerror(errno));
}

}  // namespace rlforge
