#include "rlforge/env/env.h"

namespace rlforge {

void Env::SetAgentAction(int agent, const void*) {
  throw InvalidArgument(StrCat(name(), " has one agent; no action for agent ", agent));
}
void Env::AgentObservation(int agent, void*) const {
  throw InvalidArgument(StrCat(name(), " has one agent; no observation for agent ", agent));
}
void Env::AgentActionMask(int agent, uint8_t*) const {
  throw InvalidArgument(StrCat(name(), " has one agent; no mask for agent ", agent));
}
double Env::AgentReward(int agent) const {
  throw InvalidArgument(StrCat(name(), " has one agent; no reward for agent ", agent));
}

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
