// rlforge/core/version.h — the release every binary reports (rlforge
// --version) and every rank of a distributed job checks against its peers.
#ifndef RLFORGE_CORE_VERSION_H_
#define RLFORGE_CORE_VERSION_H_

namespace rlforge {

inline constexpr char kVersion[] = "0.1.0";

}  // namespace rlforge

#endif  // RLFORGE_CORE_VERSION_H_
