// rlforge/envs/classic_control/text_render.h — helpers for the classic-control
// envs' text renders: a one-line track with a marker, fixed-point numbers.
#ifndef RLFORGE_ENVS_CLASSIC_CONTROL_TEXT_RENDER_H_
#define RLFORGE_ENVS_CLASSIC_CONTROL_TEXT_RENDER_H_

#include <algorithm>
#include <cstdio>
#include <string>

namespace rlforge {

// "|.....X.....|": `marker` placed at value's position in [low, high].
inline std::string TrackLine(double value, double low, double high, int width, char marker) {
  std::string line(width, '.');
  const double t = std::clamp((value - low) / (high - low), 0.0, 1.0);
  line[static_cast<int>(t * (width - 1) + 0.5)] = marker;
  return "|" + line + "|";
}

inline std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%+.4f", v);
  return buf;
}

}  // namespace rlforge

#endif  // RLFORGE_ENVS_CLASSIC_CONTROL_TEXT_RENDER_H_
