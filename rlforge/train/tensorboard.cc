#include "rlforge/train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>

#include "rlforge/core/error.h"

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

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
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

void TensorBoardWriter::Flush() { std::fflush(file_); }

}  // namespace rlforge
