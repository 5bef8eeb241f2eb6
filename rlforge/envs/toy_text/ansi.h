// rlforge/envs/toy_text/ansi.h — ANSI colour for the toy-text renders, with the
// codes Gymnasium's utils.colorize uses (30 + colour, +10 to highlight, ;1 bold).
#ifndef RLFORGE_ENVS_TOY_TEXT_ANSI_H_
#define RLFORGE_ENVS_TOY_TEXT_ANSI_H_

#include <string>

namespace rlforge {

enum class AnsiColor { kGray = 30, kRed, kGreen, kYellow, kBlue, kMagenta, kCyan, kWhite, kCrimson };

inline std::string Colorize(const std::string& text, AnsiColor color, bool bold = false, bool highlight = false) {
  int code = static_cast<int>(color) + (highlight ? 10 : 0);
  std::string attrs = std::to_string(code);
  if (bold) attrs += ";1";
  return "\x1b[" + attrs + "m" + text + "\x1b[0m";
}

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOY_TEXT_ANSI_H_
