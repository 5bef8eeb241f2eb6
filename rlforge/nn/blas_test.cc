#include "rlforge/nn/blas.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace rlforge {
namespace {

// The test binaries' main runs UseFastBlasKernels: on a CPU with AVX2 the
// matrix products never run on OpenBLAS's SSE3 fallback (unless a user chose
// it with OPENBLAS_CORETYPE before the program started).
TEST(BlasTest, FastKernelsWhereTheCpuHasThem) {
  const std::string core = BlasCoreName();
  std::printf("OpenBLAS kernels: %s (OPENBLAS_CORETYPE=%s)\n", core.c_str(),
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "unset");
  ASSERT_FALSE(core.empty()) << "libtorch's BLAS is not OpenBLAS";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) EXPECT_NE(core, "Prescott");
}

}  // namespace
}  // namespace rlforge
