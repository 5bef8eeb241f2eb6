// rlforge/core/memory.h — refusing sizes that cannot fit before allocating.
//
// A config value such as buffer_size=1e11 or net_arch=[100000000] would
// otherwise end in std::bad_alloc, in swapping, or in a silent hang while
// memory is filled. Whatever sizes a large allocation from user input checks
// its estimate first and refuses with the key and the estimate:
//   config key 'buffer_size' = 100000000000 needs about 3.4 TB of memory; this machine has 23.4 GB
#ifndef RLFORGE_CORE_MEMORY_H_
#define RLFORGE_CORE_MEMORY_H_

#include <cstdint>
#include <string>

namespace rlforge {

// The machine's physical memory in bytes.
double PhysicalMemoryBytes();
// "3.4 TB", "812.0 MB".
std::string FormatBytes(double bytes);
// InvalidArgument "<what> needs about <bytes> of memory; this machine has
// <physical>" when `bytes` exceeds the physical memory. `what` names the
// setting ("config key 'buffer_size' = 100000000000").
void CheckFitsInMemory(const std::string& what, double bytes);

}  // namespace rlforge

#endif  // RLFORGE_CORE_MEMORY_H_
