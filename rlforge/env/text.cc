#include "rlforge/env/text.h"

#include <algorithm>

#include "rlforge/core/error.h"

namespace rlforge::text {

int64_t Encode(char c) {
  const int u = static_cast<unsigned char>(c);
  RLF_CHECK_ARG(u >= 32 && u <= 126, "text: character code ", u,
                " is not printable ASCII (the text envs' tokenizer covers ' '..'~')");
  return 3 + (u - 32);
}

std::vector<int64_t> Encode(const std::string& s) {
  std::vector<int64_t> out;
  out.reserve(s.size());
  for (char c : s) out.push_back(Encode(c));
  return out;
}

std::string Decode(const int64_t* tokens, int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = tokens[i];
    if (t == kEos) break;
    if (t == kPad) {
      if (!out.empty()) break;
      continue;
    }
    if (t >= 3 && t < kVocabSize) out.push_back(static_cast<char>(t - 3 + 32));
  }
  return out;
}

std::string TokenName(int64_t token) {
  if (token == kPad) return "<pad>";
  if (token == kBos) return "<bos>";
  if (token == kEos) return "<eos>";
  if (token >= 3 && token < kVocabSize) return std::string(1, static_cast<char>(token - 3 + 32));
  return "<" + std::to_string(token) + ">";
}

int64_t Length(const int64_t* row, int64_t context) {
  int64_t n = 0;
  while (n < context && row[n] != kPad) ++n;
  return n;
}

std::vector<int64_t> Prefix(const int64_t* row, int64_t context) {
  return std::vector<int64_t>(row, row + std::max<int64_t>(1, Length(row, context)));
}

}  // namespace rlforge::text
