#include "rlforge/env/image_io.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "rlforge/core/error.h"
#include "rlforge/core/rng.h"

namespace rlforge {
namespace {

// A minimal GIF decoder for the files AnimatedGif writes (global palette, no
// interlace): returns each frame's palette indices.
std::vector<std::vector<uint8_t>> DecodeGif(const std::string& d, int* w, int* h) {
  size_t p = 6;
  auto u16 = [&](size_t at) { return static_cast<uint8_t>(d[at]) | (static_cast<uint8_t>(d[at + 1]) << 8); };
  *w = u16(p), *h = u16(p + 2);
  p += 7 + 256 * 3;
  std::vector<std::vector<uint8_t>> frames;
  while (p < d.size()) {
    const uint8_t b = d[p];
    if (b == 0x3B) break;
    if (b == 0x21) {  // extension: skip sub-blocks
      p += 2;
      while (d[p] != 0) p += static_cast<uint8_t>(d[p]) + 1;
      ++p;
      continue;
    }
    EXPECT_EQ(b, 0x2C);
    p += 10;
    const int min_code = d[p++];
    std::string data;
    while (d[p] != 0) {
      const int n = static_cast<uint8_t>(d[p]);
      data.append(d, p + 1, n);
      p += n + 1;
    }
    ++p;
    // LZW decode.
    const int clear = 1 << min_code, eoi = clear + 1;
    std::vector<std::vector<uint8_t>> dict;
    auto reset = [&] {
      dict.assign(eoi + 1, {});
      for (int i = 0; i < clear; ++i) dict[i] = {static_cast<uint8_t>(i)};
    };
    reset();
    int size = min_code + 1, prev = -1;
    uint32_t buf = 0;
    int bits = 0;
    size_t q = 0;
    std::vector<uint8_t> out;
    while (true) {
      while (bits < size && q < data.size()) buf |= static_cast<uint32_t>(static_cast<uint8_t>(data[q++])) << bits, bits += 8;
      const int code = buf & ((1 << size) - 1);
      buf >>= size;
      bits -= size;
      if (code == clear) {
        reset();
        size = min_code + 1;
        prev = -1;
        continue;
      }
      if (code == eoi) break;
      std::vector<uint8_t> entry;
      if (code < static_cast<int>(dict.size())) entry = dict[code];
      else entry = dict[prev], entry.push_back(dict[prev][0]);
      out.insert(out.end(), entry.begin(), entry.end());
      if (prev >= 0 && dict.size() < 4096) {
        auto e = dict[prev];
        e.push_back(entry[0]);
        dict.push_back(e);
        if (static_cast<int>(dict.size()) == (1 << size) && size < 12) ++size;
      }
      prev = code;
    }
    frames.push_back(out);
  }
  return frames;
}

TEST(AnimatedGifTest, RoundTripsThroughADecoder) {
  AnimatedGif gif(5);
  Image a(97, 61, {255, 255, 255}), b(97, 61, {0, 0, 0});
  a.FillCircle(40, 30, 20, {200, 30, 30});
  for (int y = 0; y < 61; ++y)
    for (int x = 0; x < 97; ++x) b.Set(x, y, {static_cast<uint8_t>(x * 2), static_cast<uint8_t>(y * 4), 90});
  gif.AddFrame(a);
  gif.AddFrame(b);
  const std::string data = gif.Encode();
  EXPECT_EQ(data.substr(0, 6), "GIF89a");
  int w, h;
  const auto frames = DecodeGif(data, &w, &h);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(w, 97);
  EXPECT_EQ(h, 61);
  for (int f = 0; f < 2; ++f) {
    const Image& img = f == 0 ? a : b;
    ASSERT_EQ(frames[f].size(), 97u * 61u);
    for (int i = 0; i < 97 * 61; ++i) {
      const auto& px = img.pixels();
      ASSERT_EQ(frames[f][i], PaletteIndex({px[3 * i], px[3 * i + 1], px[3 * i + 2]})) << "frame " << f << " px " << i;
    }
  }
  EXPECT_THROW(gif.AddFrame(Image(10, 10)), Error);
}

TEST(AnimatedGifTest, LongFramesResetTheDictionary) {
  // Noise makes the LZW dictionary fill up and reset several times.
  Image noise(300, 200);
  Rng rng(1);
  for (auto& v : noise.pixels()) v = static_cast<uint8_t>(rng.UniformInt(256));
  AnimatedGif gif;
  gif.AddFrame(noise);
  int w, h;
  const auto frames = DecodeGif(gif.Encode(), &w, &h);
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0].size(), 60000u);
  for (int i = 0; i < 60000; ++i) {
    const auto& px = noise.pixels();
    ASSERT_EQ(frames[0][i], PaletteIndex({px[3 * i], px[3 * i + 1], px[3 * i + 2]}));
  }
}

TEST(PngTest, WritesAPngFile) {
  const std::string path = testing::TempDir() + "/rlforge_test.png";
  Image img(20, 10, {10, 20, 30});
  DrawText(&img, 1, 1, "hi", {255, 255, 255});
  WritePng(img, path);
  std::ifstream f(path, std::ios::binary);
  std::string head(8, '\0');
  f.read(head.data(), 8);
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(TextWidth("hello"), TextWidth("hi"));
}

}  // namespace
}  // namespace rlforge
