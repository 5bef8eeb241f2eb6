#include "rlforge/train/tensorboard.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rlforge {
namespace {

TEST(Crc32cTest, KnownCheckValue) {
  // The CRC-32C check value of "123456789".
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
}

uint64_t Varint(const std::string& s, size_t* pos) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(s[(*pos)++]);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
}

TEST(TensorBoardWriterTest, WritesValidRecordsWithScalars) {
  const std::string dir = testing::TempDir() + "/tb_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path;
  {
    TensorBoardWriter w(dir);
    path = w.path();
    w.AddScalar("train/loss", 0.5, 7);
    w.AddScalar("rollout/ep_return_mean", 123.25, 8);
  }
  EXPECT_NE(path.find("events.out.tfevents."), std::string::npos);
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string data = ss.str();
  size_t pos = 0;
  std::vector<std::string> payloads;
  while (pos < data.size()) {
    uint64_t len;
    std::memcpy(&len, data.data() + pos, 8);
    uint32_t len_crc, data_crc;
    std::memcpy(&len_crc, data.data() + pos + 8, 4);
    ASSERT_EQ(len_crc, MaskedCrc32c(data.data() + pos, 8));
    const std::string payload = data.substr(pos + 12, len);
    std::memcpy(&data_crc, data.data() + pos + 12 + len, 4);
    ASSERT_EQ(data_crc, MaskedCrc32c(payload.data(), payload.size()));
    payloads.push_back(payload);
    pos += 12 + len + 4;
  }
  ASSERT_EQ(payloads.size(), 3u);
  EXPECT_NE(payloads[0].find("brain.Event:2"), std::string::npos);
  // Second record: wall_time (9 bytes), step 7, then summary { value { tag, simple_value } }.
  const std::string& e = payloads[1];
  size_t p = 9;
  ASSERT_EQ(static_cast<uint8_t>(e[p++]), 0x10);
  EXPECT_EQ(Varint(e, &p), 7u);
  ASSERT_EQ(static_cast<uint8_t>(e[p++]), 0x2a);
  Varint(e, &p);
  ASSERT_EQ(static_cast<uint8_t>(e[p++]), 0x0a);
  Varint(e, &p);
  ASSERT_EQ(static_cast<uint8_t>(e[p++]), 0x0a);
  const uint64_t tag_len = Varint(e, &p);
  EXPECT_EQ(e.substr(p, tag_len), "train/loss");
  p += tag_len;
  ASSERT_EQ(static_cast<uint8_t>(e[p++]), 0x15);
  float v;
  std::memcpy(&v, e.data() + p, 4);
  EXPECT_EQ(v, 0.5f);
}

}  // namespace
}  // namespace rlforge
