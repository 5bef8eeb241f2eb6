// rlforge/nn/blas.h — the BLAS under libtorch's and the hand-written
// kernels' matrix products: its threads and its kernels.
//
// Debian's OpenBLAS is built for every x86-64 CPU and picks its kernels when
// it is loaded, from the CPU's identity. A CPU it does not recognise — seen
// on virtual machines that report a generic "Intel(R) Xeon(R) Processor" with
// AVX-512 — gets its oldest kernels ("Prescott", SSE3): here 12 against 59
// GFLOP/s at DQN's shapes, a 3x slower DQN. OpenBLAS reads the override,
// the environment variable OPENBLAS_CORETYPE, only when it loads, before
// main runs; so UseFastBlasKernels, called first thing in main, re-executes
// the program once with OPENBLAS_CORETYPE naming the kernels the CPU
// supports (SkylakeX with AVX-512, Haswell with AVX2) when OpenBLAS fell back
// to Prescott and the variable is unset. Everywhere else it does nothing, and
// a user's own OPENBLAS_CORETYPE always wins. Loading libtorch twice costs
// about half a second: `rlforge train` and `rlforge bench` and the test
// binaries that train networks call it, the quick subcommands do not.
#ifndef RLFORGE_NN_BLAS_H_
#define RLFORGE_NN_BLAS_H_

#include <string>

namespace rlforge {

void UseFastBlasKernels(char** argv);
// The kernels OpenBLAS uses ("SkylakeX", "Haswell", "Prescott", ...; "" when
// the BLAS is not OpenBLAS).
std::string BlasCoreName();
// Sets libtorch's intra-op threads and OpenBLAS's own pool to n: on small
// matrices OpenBLAS's pool only spins and yields, so it gets the same count.
void SetComputeThreads(int n);

}  // namespace rlforge

#endif  // RLFORGE_NN_BLAS_H_
