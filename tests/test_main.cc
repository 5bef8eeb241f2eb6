// main() of the test binaries that train networks: OpenBLAS's fast kernels
// where its CPU detection falls back to its slowest (rlforge/nn/blas.h), then
// GoogleTest.
#include <gtest/gtest.h>

#include "rlforge/nn/blas.h"

int main(int argc, char** argv) {
  rlforge::UseFastBlasKernels(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
