#include "rlforge/core/memory.h"

#include <unistd.h>

#include <cstdio>

#include "rlforge/core/error.h"

namespace rlforge {

double PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 1e18;  // unknown: refuse nothing
  return static_cast<double>(pages) * static_cast<double>(page);
}

std::string FormatBytes(double bytes) {
  static const char* kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) bytes /= 1024, ++u;
  char buf[64];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[u]);
  return buf;
}

void CheckFitsInMemory(const std::string& what, double bytes) {
  const double physical = PhysicalMemoryBytes();
  RLF_CHECK_ARG(bytes <= physical, what, " needs about ", FormatBytes(bytes), " of memory; this machine has ",
                FormatBytes(physical));
}

}  // namespace rlforge
