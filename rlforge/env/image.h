// rlforge/env/image.h — an RGB image and the few drawing primitives the
// built-in envs need for their `RenderRgb` (filled polygons, circles, lines).
// Coordinates are pixels with (0, 0) at the top-left corner.
#ifndef RLFORGE_ENV_IMAGE_H_
#define RLFORGE_ENV_IMAGE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rlforge {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

class Image {
 public:
  Image() = default;
  Image(int width, int height, Rgb fill = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }
  // [height, width, 3] row-major, RGB.
  const std::vector<uint8_t>& pixels() const { return pixels_; }
  std::vector<uint8_t>& pixels() { return pixels_; }

  Rgb At(int x, int y) const;
  void Set(int x, int y, Rgb c);
  void Fill(Rgb c);
  void FillRect(double x0, double y0, double x1, double y1, Rgb c);
  // Even-odd scanline fill of any simple polygon.
  void FillPolygon(const std::vector<std::pair<double, double>>& points, Rgb c);
  void FillCircle(double cx, double cy, double radius, Rgb c);
  // A line of the given thickness (drawn as a filled quad).
  void DrawLine(double x0, double y0, double x1, double y1, double thickness, Rgb c);
  // Flips top and bottom (for drawings made with y pointing up).
  void FlipVertical();

 private:
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> pixels_;
};

}  // namespace rlforge

#endif  // RLFORGE_ENV_IMAGE_H_
