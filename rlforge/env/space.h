// rlforge/env/space.h — observation and action spaces (Gymnasium's semantics).
//
// A Space is a small value type describing a set of arrays:
//   Discrete(n, start)          one integer in [start, start + n)          int64
//   Box(low, high, shape)       an array with per-element bounds           float32, float64, int64, uint8
//   MultiDiscrete(nvec)         integers x[i] in [0, nvec[i])              int64
//   MultiBinary(n)              n values in {0, 1}                         int8
// Elements are stored contiguously in the space's dtype; `nbytes()` is the size
// of one element of the space (one observation, one action). Vector envs and
// learners lay batches out as [N, nbytes] with no padding.
//
// Action masks: a mask has `mask_size()` bytes, 1 = allowed. Discrete uses n
// entries, MultiDiscrete one block of nvec[i] entries per dimension (as
// Gymnasium's MultiDiscrete.sample(mask=...) takes them); MultiBinary and Box
// have no mask.
#ifndef RLFORGE_ENV_SPACE_H_
#define RLFORGE_ENV_SPACE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rlforge/core/rng.h"

namespace rlforge {

enum class DType : uint8_t { kFloat32, kFloat64, kInt64, kInt8, kUInt8 };

size_t DTypeSize(DType dtype);
const char* DTypeName(DType dtype);
// Element i of a buffer of `dtype`, as a double; and the reverse (with C++'s
// conversion rules: truncation toward zero for the integer types).
double ReadElement(const void* data, DType dtype, int64_t i);
void WriteElement(void* data, DType dtype, int64_t i, double value);

enum class SpaceKind : uint8_t { kDiscrete, kBox, kMultiDiscrete, kMultiBinary };

class Space {
 public:
  // An empty Discrete(1); use the factories below.
  Space() = default;

  static Space Discrete(int64_t n, int64_t start = 0);
  // Per-element bounds; low/high have prod(shape) entries (+-inf allowed for floats).
  static Space Box(std::vector<double> low, std::vector<double> high,
                   std::vector<int64_t> shape, DType dtype = DType::kFloat32);
  // The same bounds for every element.
  static Space Box(double low, double high, std::vector<int64_t> shape,
                   DType dtype = DType::kFloat32);
  static Space MultiDiscrete(std::vector<int64_t> nvec);
  static Space MultiBinary(int64_t n);

  SpaceKind kind() const { return kind_; }
  DType dtype() const { return dtype_; }
  // Shape of one element: {} for Discrete (a scalar).
  const std::vector<int64_t>& shape() const { return shape_; }
  // Number of scalars in one element (1 for Discrete).
  int64_t size() const { return size_; }
  size_t nbytes() const { return static_cast<size_t>(size_) * DTypeSize(dtype_); }

  // Discrete only.
  int64_t n() const { return n_; }
  int64_t start() const { return start_; }
  // Box only: prod(shape) bounds each.
  const std::vector<double>& low() const { return low_; }
  const std::vector<double>& high() const { return high_; }
  bool is_bounded() const;
  // MultiDiscrete only.
  const std::vector<int64_t>& nvec() const { return nvec_; }

  // Bytes of a legal-action mask for this space (0 when masks do not apply).
  int64_t mask_size() const;

  // Writes one random element into out (nbytes() bytes). With a mask, samples
  // only allowed values, uniformly (Discrete, MultiDiscrete); a dimension whose
  // mask allows nothing yields `start` (Discrete) or 0 (MultiDiscrete), as
  // Gymnasium does. Box: uniform when bounded, normal / shifted exponential
  // when (half-)unbounded; integer Boxes sample uniformly in [low, high].
  void Sample(Rng& rng, void* out, const uint8_t* mask = nullptr) const;

  // True when data (nbytes() bytes in this space's dtype) is a member.
  bool Contains(const void* data) const {
    if (kind_ == SpaceKind::kDiscrete) {  // the hot case, inline
      const int64_t v = *static_cast<const int64_t*>(data);
      return v >= start_ && v < start_ + n_;
    }
    return WhyNotContained(data).empty();
  }
  // Like Contains, but says why not (empty when it is a member).
  std::string WhyNotContained(const void* data) const;
  // For Box spaces: "" when every entry is finite (bounds are not checked),
  // else why not; other spaces: WhyNotContained.
  std::string WhyNotFinite(const void* data) const;

  // Readable value of one element, e.g. "3", "[0.1, -2]".
  std::string FormatValue(const void* data) const;
  // "Discrete(2)", "Box(-1.0, 1.0, (3,), float32)", "MultiDiscrete([3 4])".
  std::string ToString() const;

  friend bool operator==(const Space& a, const Space& b);
  friend bool operator!=(const Space& a, const Space& b) { return !(a == b); }

 private:
  SpaceKind kind_ = SpaceKind::kDiscrete;
  DType dtype_ = DType::kInt64;
  std::vector<int64_t> shape_;
  int64_t size_ = 1;
  int64_t n_ = 1;
  int64_t start_ = 0;
  std::vector<double> low_, high_;
  std::vector<int64_t> nvec_;
};

// A uniform choice among the allowed entries of mask[0..n) (nonzero bytes);
// -1 when none is allowed.
int64_t SampleMasked(Rng& rng, const uint8_t* mask, int64_t n);
// A MultiDiscrete action drawn dimension by dimension, for envs whose
// dimensions restrict each other: row[d] uniform among the values
// legal(row, d, mask) allows once row[0..d) are chosen (0 where none is).
void SampleConditional(Rng& rng, const std::vector<int64_t>& nvec,
                       const std::function<void(const int64_t* prefix, int dim, uint8_t* mask)>& legal, int64_t* row);


}  // namespace rlforge

#endif  // RLFORGE_ENV_SPACE_H_
