#include "rlforge/env/image_io.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "rlforge/core/error.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBIW_WINDOWS_UTF8
#include <stb/stb_image_write.h>
#include <stb/stb_easy_font.h>

namespace rlforge {

void WritePng(const Image& image, const std::string& path) {
  RLF_CHECK(image.width() > 0 && image.height() > 0, "cannot write an empty image to ", path);
  const int ok = stbi_write_png(path.c_str(), image.width(), image.height(), 3, image.pixels().data(),
                                image.width() * 3);
  RLF_CHECK(ok != 0, "cannot write PNG file ", path);
}

uint8_t PaletteIndex(Rgb c) {
  const int r = (c.r * 5 + 127) / 255, g = (c.g * 6 + 127) / 255, b = (c.b * 5 + 127) / 255;
  return static_cast<uint8_t>(r * 42 + g * 6 + b);
}

Rgb PaletteColor(uint8_t i) {
  if (i >= 252) return {0, 0, 0};
  return {static_cast<uint8_t>((i / 42) * 255 / 5), static_cast<uint8_t>(((i / 6) % 7) * 255 / 6),
          static_cast<uint8_t>((i % 6) * 255 / 5)};
}

void AnimatedGif::AddFrame(const Image& frame) {
  if (frames_.empty()) {
    width_ = frame.width();
    height_ = frame.height();
    RLF_CHECK(width_ > 0 && height_ > 0 && width_ < 65536 && height_ < 65536, "GIF frames must be 1..65535 px");
  }
  RLF_CHECK(frame.width() == width_ && frame.height() == height_, "GIF frame size ", frame.width(), "x",
            frame.height(), " differs from the first frame's ", width_, "x", height_);
  std::vector<uint8_t> idx(static_cast<size_t>(width_) * height_);
  const auto& px = frame.pixels();
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = PaletteIndex({px[3 * i], px[3 * i + 1], px[3 * i + 2]});
  frames_.push_back(std::move(idx));
}

namespace {

void Put16(std::string* out, int v) {
  out->push_back(static_cast<char>(v & 0xFF));
  out->push_back(static_cast<char>((v >> 8) & 0xFF));
}

// Variable-width LZW as GIF uses it (codes start at min_code_size + 1 bits,
// reset with a clear code when 4096 codes are used), packed LSB first into
// sub-blocks of at most 255 bytes.
void LzwEncode(const std::vector<uint8_t>& data, std::string* out) {
  const int min_code_size = 8, clear = 256, eoi = 257;
  std::string bytes;
  uint32_t bit_buffer = 0;
  int bit_count = 0;
  int code_size = min_code_size + 1;
  auto emit = [&](int code) {
    bit_buffer |= static_cast<uint32_t>(code) << bit_count;
    bit_count += code_size;
    while (bit_count >= 8) {
      bytes.push_back(static_cast<char>(bit_buffer & 0xFF));
      bit_buffer >>= 8;
      bit_count -= 8;
    }
  };
  std::unordered_map<uint32_t, int> dict;
  int next_code = eoi + 1;
  emit(clear);
  int prefix = data.empty() ? -1 : data[0];
  for (size_t i = 1; i < data.size(); ++i) {
    const uint32_t key = (static_cast<uint32_t>(prefix) << 8) | data[i];
    auto it = dict.find(key);
    if (it != dict.end()) {
      prefix = it->second;
      continue;
    }
    emit(prefix);
    if (next_code < 4096) {
      dict[key] = next_code++;
      if (next_code > (1 << code_size) && code_size < 12) ++code_size;
    } else {
      emit(clear);
      dict.clear();
      next_code = eoi + 1;
      code_size = min_code_size + 1;
    }
    prefix = data[i];
  }
  if (prefix >= 0) emit(prefix);
  emit(eoi);
  if (bit_count > 0) bytes.push_back(static_cast<char>(bit_buffer & 0xFF));
  out->push_back(static_cast<char>(min_code_size));
  for (size_t i = 0; i < bytes.size(); i += 255) {
    const size_t n = std::min<size_t>(255, bytes.size() - i);
    out->push_back(static_cast<char>(n));
    out->append(bytes, i, n);
  }
  out->push_back(0);
}

}  // namespace

std::string AnimatedGif::Encode() const {
  RLF_CHECK(!frames_.empty(), "a GIF needs at least one frame");
  std::string out = "GIF89a";
  Put16(&out, width_);
  Put16(&out, height_);
  out.push_back(static_cast<char>(0xF7));  // global colour table, 8 bits, 256 entries
  out.push_back(0);
  out.push_back(0);
  for (int i = 0; i < 256; ++i) {
    const Rgb c = PaletteColor(static_cast<uint8_t>(i));
    out.push_back(static_cast<char>(c.r));
    out.push_back(static_cast<char>(c.g));
    out.push_back(static_cast<char>(c.b));
  }
  // Loop forever (NETSCAPE2.0 application extension).
  out += std::string("\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00", 19);
  for (const auto& f : frames_) {
    out += std::string("\x21\xF9\x04\x00", 4);  // graphic control extension
    Put16(&out, delay_cs_);
    out.push_back(0);
    out.push_back(0);
    out.push_back(0x2C);  // image descriptor
    Put16(&out, 0);
    Put16(&out, 0);
    Put16(&out, width_);
    Put16(&out, height_);
    out.push_back(0);
    LzwEncode(f, &out);
  }
  out.push_back(0x3B);
  return out;
}

void AnimatedGif::Write(const std::string& path) const {
  const std::string data = Encode();
  FILE* f = std::fopen(path.c_str(), "wb");
  RLF_CHECK(f != nullptr, "cannot write GIF file ", path);
  const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  RLF_CHECK(std::fclose(f) == 0 && ok, "cannot write GIF file ", path);
}

void DrawText(Image* image, double x, double y, const std::string& text, Rgb color, double scale) {
  static thread_local std::vector<char> buffer(200000);
  const int quads = stb_easy_font_print(0, 0, const_cast<char*>(text.c_str()), nullptr, buffer.data(),
                                        static_cast<int>(buffer.size()));
  // Each vertex: x, y, z (floats) and 4 colour bytes = 16 bytes; 4 per quad.
  for (int q = 0; q < quads; ++q) {
    std::vector<std::pair<double, double>> pts;
    for (int v = 0; v < 4; ++v) {
      float vx, vy;
      std::memcpy(&vx, buffer.data() + (q * 4 + v) * 16, 4);
      std::memcpy(&vy, buffer.data() + (q * 4 + v) * 16 + 4, 4);
      pts.push_back({x + vx * scale, y + vy * scale});
    }
    image->FillPolygon(pts, color);
  }
}

double TextWidth(const std::string& text, double scale) {
  return stb_easy_font_width(const_cast<char*>(text.c_str())) * scale;
}

}  // namespace rlforge
