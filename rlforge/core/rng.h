// rlforge/core/rng.h — seeded random numbers.
//
// Rng is xoshiro256++ (Blackman & Vigna, 2019): 32 bytes of state, fast, and
// good enough for simulation. A 64-bit seed is expanded into the state with
// splitmix64, so nearby seeds (seed, seed + 1, ...) give unrelated streams,
// which is what a vector env that seeds env i with seed + i needs.
//
// The state is a plain value: copy it to snapshot, compare it, or save its
// four words (State()/SetState()) in a checkpoint to resume exactly.
#ifndef RLFORGE_CORE_RNG_H_
#define RLFORGE_CORE_RNG_H_

#include <array>
#include <cmath>
#include <cstdint>

namespace rlforge {

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Rng(uint64_t seed = 0) { Seed(seed); }

  // Re-initializes the state from a 64-bit seed.
  void Seed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& word : s_) word = SplitMix64(&x);
  }

  // Next raw 64-bit value.
  uint64_t Next() {
    const uint64_t result = Rotl(s_[0] + s_[3], 23) + s_[0];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform double in [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform double in [low, high).
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }

  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire 2019).
  uint64_t UniformInt(uint64_t n) {
    __uint128_t m = static_cast<__uint128_t>(Next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = -n % n;
      while (low < threshold) {
        m = static_cast<__uint128_t>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Standard normal deviate (Box-Muller; one of the pair is discarded so the
  // state stays a plain value with no cached spare).
  double Normal() {
    double u1 = Uniform();
    while (u1 <= 0.0) u1 = Uniform();
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

  bool Bernoulli(double p) { return Uniform() < p; }

  const State& state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

  friend bool operator==(const Rng& a, const Rng& b) { return a.s_ == b.s_; }
  friend bool operator!=(const Rng& a, const Rng& b) { return !(a == b); }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t SplitMix64(uint64_t* x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  State s_{};
};

}  // namespace rlforge

#endif  // RLFORGE_CORE_RNG_H_
