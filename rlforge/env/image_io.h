// rlforge/env/image_io.h — writing images: PNG (via stb_image_write) and
// animated GIF (our own LZW encoder over a fixed 6x7x6 colour cube palette,
// enough for the envs' flat-coloured renders), plus text drawn with
// stb_easy_font's vector glyphs.
#ifndef RLFORGE_ENV_IMAGE_IO_H_
#define RLFORGE_ENV_IMAGE_IO_H_

#include <string>
#include <vector>

#include "rlforge/env/image.h"

namespace rlforge {

// Throws Error on I/O failure.
void WritePng(const Image& image, const std::string& path);

// Frames must all have the first frame's size. delay_cs: 1/100 s per frame.
class AnimatedGif {
 public:
  explicit AnimatedGif(int delay_cs = 4) : delay_cs_(delay_cs) {}
  void AddFrame(const Image& frame);
  int frames() const { return static_cast<int>(frames_.size()); }
  // Encodes and writes the file (looping forever); throws Error on failure.
  void Write(const std::string& path) const;
  // The encoded bytes.
  std::string Encode() const;

 private:
  int delay_cs_;
  int width_ = 0, height_ = 0;
  std::vector<std::vector<uint8_t>> frames_;  // palette indices [h * w]
};

// Palette index of a colour in the GIF palette, and the palette colour.
uint8_t PaletteIndex(Rgb c);
Rgb PaletteColor(uint8_t index);

// Draws text with its top-left corner at (x, y); `scale` multiplies the
// glyphs' ~7-pixel height.
void DrawText(Image* image, double x, double y, const std::string& text, Rgb color, double scale = 1.0);
// Width in pixels of text drawn at `scale`.
double TextWidth(const std::string& text, double scale = 1.0);

}  // namespace rlforge

#endif  // RLFORGE_ENV_IMAGE_IO_H_
