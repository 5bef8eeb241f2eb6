#include "rlforge/env/image.h"

#include <algorithm>
#include <cmath>

namespace rlforge {

Image::Image(int width, int height, Rgb fill)
    : width_(width), height_(height), pixels_(static_cast<size_t>(width) * height * 3) {
  Fill(fill);
}

Rgb Image::At(int x, int y) const {
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
}

void Image::Set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  pixels_[i] = c.r;
  pixels_[i + 1] = c.g;
  pixels_[i + 2] = c.b;
}

void Image::Fill(Rgb c) {
  for (size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = c.r;
    pixels_[i + 1] = c.g;
    pixels_[i + 2] = c.b;
  }
}

void Image::FillRect(double x0, double y0, double x1, double y1, Rgb c) {
  const int xa = std::max(0, static_cast<int>(std::floor(std::min(x0, x1))));
  const int xb = std::min(width_, static_cast<int>(std::ceil(std::max(x0, x1))));
  const int ya = std::max(0, static_cast<int>(std::floor(std::min(y0, y1))));
  const int yb = std::min(height_, static_cast<int>(std::ceil(std::max(y0, y1))));
  for (int y = ya; y < yb; ++y)
    for (int x = xa; x < xb; ++x) Set(x, y, c);
}

void Image::FillPolygon(const std::vector<std::pair<double, double>>& pts, Rgb c) {
  if (pts.size() < 3) return;
  double ymin = pts[0].second, ymax = pts[0].second;
  for (const auto& p : pts) {
    ymin = std::min(ymin, p.second);
    ymax = std::max(ymax, p.second);
  }
  const int ya = std::max(0, static_cast<int>(std::floor(ymin)));
  const int yb = std::min(height_ - 1, static_cast<int>(std::ceil(ymax)));
  std::vector<double> xs;
  for (int y = ya; y <= yb; ++y) {
    const double sy = y + 0.5;  // sample at pixel centres
    xs.clear();
    for (size_t i = 0, j = pts.size() - 1; i < pts.size(); j = i++) {
      const double y0 = pts[j].second, y1 = pts[i].second;
      if ((y0 <= sy && y1 > sy) || (y1 <= sy && y0 > sy)) {
        const double t = (sy - y0) / (y1 - y0);
        xs.push_back(pts[j].first + t * (pts[i].first - pts[j].first));
      }
    }
    std::sort(xs.begin(), xs.end());
    for (size_t k = 0; k + 1 < xs.size(); k += 2) {
      const int xa = std::max(0, static_cast<int>(std::ceil(xs[k] - 0.5)));
      const int xb = std::min(width_ - 1, static_cast<int>(std::floor(xs[k + 1] - 0.5)));
      for (int x = xa; x <= xb; ++x) Set(x, y, c);
    }
  }
}

void Image::FillCircle(double cx, double cy, double r, Rgb c) {
  const int ya = std::max(0, static_cast<int>(std::floor(cy - r)));
  const int yb = std::min(height_ - 1, static_cast<int>(std::ceil(cy + r)));
  const int xa = std::max(0, static_cast<int>(std::floor(cx - r)));
  const int xb = std::min(width_ - 1, static_cast<int>(std::ceil(cx + r)));
  for (int y = ya; y <= yb; ++y)
    for (int x = xa; x <= xb; ++x) {
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      if (dx * dx + dy * dy <= r * r) Set(x, y, c);
    }
}

void Image::DrawLine(double x0, double y0, double x1, double y1, double thickness, Rgb c) {
  const double dx = x1 - x0, dy = y1 - y0;
  const double len = std::hypot(dx, dy);
  if (len == 0) {
    FillCircle(x0, y0, thickness / 2, c);
    return;
  }
  const double nx = -dy / len * thickness / 2, ny = dx / len * thickness / 2;
  FillPolygon({{x0 + nx, y0 + ny}, {x1 + nx, y1 + ny}, {x1 - nx, y1 - ny}, {x0 - nx, y0 - ny}}, c);
}

void Image::FlipVertical() {
  const size_t row = static_cast<size_t>(width_) * 3;
  for (int y = 0; y < height_ / 2; ++y)
    std::swap_ranges(pixels_.begin() + y * row, pixels_.begin() + (y + 1) * row,
                     pixels_.begin() + (height_ - 1 - y) * row);
}

}  // namespace rlforge
