#include "rlforge/env/env.h"

namespace rlforge {

void Info::Set(const char* key, double value) {
  for (int i = 0; i < size_; ++i) {
    if (std::strcmp(keys_[i], key) == 0) {
      values_[i] = value;
      return;
    }
  }
  RLF_CHECK(size_ < kCapacity, "Info is full (", kCapacity, " entries); cannot add '", key, "'");
  keys_[size_] = key;
  values_[size_] = value;
  ++size_;
}

std::optional<double> Info::Get(std::string_view key) const {
  for (int i = 0; i < size_; ++i)
    if (key == keys_[i]) return values_[i];
  return std::nullopt;
}

}  // namespace rlforge
