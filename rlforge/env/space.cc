#include "rlforge/env/space.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

int64_t Product(const std::vector<int64_t>& shape) {
  int64_t p = 1;
  for (int64_t d : shape) p *= d;
  return p;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return StrCat("(", shape[0], ",)");
  return StrCat("(", Join(shape, ", "), ")");
}

std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.precision(8);
  os << v;
  std::string s = os.str();
  if (s.find_first_of(".e") == std::string::npos && s.find("nan") == std::string::npos) s += ".0";
  return s;
}

bool AllEqual(const std::vector<double>& v) {
  for (double x : v)
    if (!(x == v[0])) return false;
  return true;
}

}  // namespace

double ReadElement(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kFloat32: return static_cast<const float*>(data)[i];
    case DType::kFloat64: return static_cast<const double*>(data)[i];
    case DType::kInt64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case DType::kInt8: return static_cast<const int8_t*>(data)[i];
    case DType::kUInt8: return static_cast<const uint8_t*>(data)[i];
  }
  return 0;
}

void WriteElement(void* data, DType dtype, int64_t i, double v) {
  switch (dtype) {
    case DType::kFloat32: static_cast<float*>(data)[i] = static_cast<float>(v); break;
    case DType::kFloat64: static_cast<double*>(data)[i] = v; break;
    case DType::kInt64: static_cast<int64_t*>(data)[i] = static_cast<int64_t>(v); break;
    case DType::kInt8: static_cast<int8_t*>(data)[i] = static_cast<int8_t>(v); break;
    case DType::kUInt8: static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(v); break;
  }
}

namespace {
bool IsFloat(DType d) { return d == DType::kFloat32 || d == DType::kFloat64; }

}  // namespace

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt64: return 8;
    case DType::kInt8: return 1;
    case DType::kUInt8: return 1;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt64: return "int64";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
  }
  return "?";
}

Space Space::Discrete(int64_t n, int64_t start) {
  RLF_CHECK_ARG(n >= 1, "Discrete space needs n >= 1, got ", n);
  Space s;
  s.kind_ = SpaceKind::kDiscrete;
  s.dtype_ = DType::kInt64;
  s.size_ = 1;
  s.n_ = n;
  s.start_ = start;
  return s;
}

Space Space::Box(std::vector<double> low, std::vector<double> high, std::vector<int64_t> shape,
                 DType dtype) {
  const int64_t size = Product(shape);
  for (int64_t d : shape) RLF_CHECK_ARG(d >= 1, "Box shape dimensions must be >= 1, got ", ShapeString(shape));
  RLF_CHECK_ARG(static_cast<int64_t>(low.size()) == size && static_cast<int64_t>(high.size()) == size,
                "Box bounds need ", size, " entries for shape ", ShapeString(shape), ", got ",
                low.size(), " and ", high.size());
  for (int64_t i = 0; i < size; ++i) {
    RLF_CHECK_ARG(!std::isnan(low[i]) && !std::isnan(high[i]), "Box bounds must not be NaN");
    RLF_CHECK_ARG(low[i] <= high[i], "Box low must be <= high, got low[", i, "]=", low[i],
                  " > high[", i, "]=", high[i]);
    if (!IsFloat(dtype))
      RLF_CHECK_ARG(std::isfinite(low[i]) && std::isfinite(high[i]),
                    "integer Box bounds must be finite");
  }
  Space s;
  s.kind_ = SpaceKind::kBox;
  s.dtype_ = dtype;
  s.shape_ = std::move(shape);
  s.size_ = size;
  s.low_ = std::move(low);
  s.high_ = std::move(high);
  return s;
}

Space Space::Box(double low, double high, std::vector<int64_t> shape, DType dtype) {
  const int64_t size = Product(shape);
  return Box(std::vector<double>(size, low), std::vector<double>(size, high), std::move(shape), dtype);
}

Space Space::MultiDiscrete(std::vector<int64_t> nvec) {
  RLF_CHECK_ARG(!nvec.empty(), "MultiDiscrete needs at least one dimension");
  for (int64_t n : nvec) RLF_CHECK_ARG(n >= 1, "MultiDiscrete nvec entries must be >= 1, got ", n);
  Space s;
  s.kind_ = SpaceKind::kMultiDiscrete;
  s.dtype_ = DType::kInt64;
  s.shape_ = {static_cast<int64_t>(nvec.size())};
  s.size_ = static_cast<int64_t>(nvec.size());
  s.nvec_ = std::move(nvec);
  return s;
}

Space Space::MultiBinary(int64_t n) {
  RLF_CHECK_ARG(n >= 1, "MultiBinary needs n >= 1, got ", n);
  Space s;
  s.kind_ = SpaceKind::kMultiBinary;
  s.dtype_ = DType::kInt8;
  s.shape_ = {n};
  s.size_ = n;
  return s;
}

bool Space::is_bounded() const {
  for (size_t i = 0; i < low_.size(); ++i)
    if (!std::isfinite(low_[i]) || !std::isfinite(high_[i])) return false;
  return true;
}

int64_t Space::mask_size() const {
  switch (kind_) {
    case SpaceKind::kDiscrete: return n_;
    case SpaceKind::kMultiDiscrete: {
      int64_t total = 0;
      for (int64_t n : nvec_) total += n;
      return total;
    }
    default: return 0;
  }
}

void SampleConditional(Rng& rng, const std::vector<int64_t>& nvec,
                       const std::function<void(const int64_t* prefix, int dim, uint8_t* mask)>& legal, int64_t* row) {
  std::vector<uint8_t> mask(static_cast<size_t>(*std::max_element(nvec.begin(), nvec.end())));
  std::fill(row, row + nvec.size(), 0);
  for (size_t d = 0; d < nvec.size(); ++d) {
    legal(row, static_cast<int>(d), mask.data());
    row[d] = std::max<int64_t>(0, SampleMasked(rng, mask.data(), nvec[d]));
  }
}

// Uniform choice among allowed entries of mask[0..n); -1 when none is allowed.
int64_t SampleMasked(Rng& rng, const uint8_t* mask, int64_t n) {
  int64_t allowed = 0;
  for (int64_t i = 0; i < n; ++i) allowed += mask[i] != 0;
  if (allowed == 0) return -1;
  int64_t k = static_cast<int64_t>(rng.UniformInt(allowed));
  for (int64_t i = 0; i < n; ++i) {
    if (mask[i] && k-- == 0) return i;
  }
  return -1;
}

void Space::Sample(Rng& rng, void* out, const uint8_t* mask) const {
  switch (kind_) {
    case SpaceKind::kDiscrete: {
      int64_t v;
      if (mask) {
        const int64_t k = SampleMasked(rng, mask, n_);
        v = start_ + (k < 0 ? 0 : k);
      } else {
        v = start_ + static_cast<int64_t>(rng.UniformInt(n_));
      }
      *static_cast<int64_t*>(out) = v;
      return;
    }
    case SpaceKind::kMultiDiscrete: {
      auto* o = static_cast<int64_t*>(out);
      const uint8_t* m = mask;
      for (size_t i = 0; i < nvec_.size(); ++i) {
        if (m) {
          const int64_t k = SampleMasked(rng, m, nvec_[i]);
          o[i] = k < 0 ? 0 : k;
          m += nvec_[i];
        } else {
          o[i] = static_cast<int64_t>(rng.UniformInt(nvec_[i]));
        }
      }
      return;
    }
    case SpaceKind::kMultiBinary: {
      auto* o = static_cast<int8_t*>(out);
      for (int64_t i = 0; i < size_; ++i) o[i] = static_cast<int8_t>(rng.Next() >> 63);
      return;
    }
    case SpaceKind::kBox: {
      for (int64_t i = 0; i < size_; ++i) {
        const double lo = low_[i], hi = high_[i];
        double v;
        if (!IsFloat(dtype_)) {
          v = lo + static_cast<double>(rng.UniformInt(static_cast<uint64_t>(hi - lo) + 1));
        } else if (std::isfinite(lo) && std::isfinite(hi)) {
          v = rng.Uniform(lo, hi);
        } else if (std::isfinite(lo)) {
          v = lo - std::log1p(-rng.Uniform());  // lo + Exp(1)
        } else if (std::isfinite(hi)) {
          v = hi + std::log1p(-rng.Uniform());  // hi - Exp(1)
        } else {
          v = rng.Normal();
        }
        WriteElement(out, dtype_, i, v);
      }
      return;
    }
  }
}

std::string Space::WhyNotContained(const void* data) const {
  switch (kind_) {
    case SpaceKind::kDiscrete: {
      const int64_t v = *static_cast<const int64_t*>(data);
      if (v < start_ || v >= start_ + n_)
        return StrCat(v, " is outside ", ToString(), " (valid: ", start_, "..", start_ + n_ - 1, ")");
      return "";
    }
    case SpaceKind::kMultiDiscrete: {
      const auto* v = static_cast<const int64_t*>(data);
      for (size_t i = 0; i < nvec_.size(); ++i)
        if (v[i] < 0 || v[i] >= nvec_[i])
          return StrCat("entry ", i, " = ", v[i], " is outside [0, ", nvec_[i] - 1, "] of ", ToString());
      return "";
    }
    case SpaceKind::kMultiBinary: {
      const auto* v = static_cast<const int8_t*>(data);
      for (int64_t i = 0; i < size_; ++i)
        if (v[i] != 0 && v[i] != 1) return StrCat("entry ", i, " = ", int(v[i]), " is not 0 or 1");
      return "";
    }
    case SpaceKind::kBox: {
      for (int64_t i = 0; i < size_; ++i) {
        const double v = ReadElement(data, dtype_, i);
        if (std::isnan(v)) return StrCat("entry ", i, " is NaN");
        if (v < low_[i] || v > high_[i])
          return StrCat("entry ", i, " = ", Num(v), " is outside [", Num(low_[i]), ", ", Num(high_[i]), "]");
      }
      return "";
    }
  }
  return "";
}

std::string Space::WhyNotFinite(const void* data) const {
  if (kind_ != SpaceKind::kBox) return WhyNotContained(data);
  for (int64_t i = 0; i < size_; ++i) {
    const double v = ReadElement(data, dtype_, i);
    if (!std::isfinite(v)) return StrCat("entry ", i, " is ", Num(v), " (not finite)");
  }
  return "";
}

std::string Space::FormatValue(const void* data) const {
  if (kind_ == SpaceKind::kDiscrete) return std::to_string(*static_cast<const int64_t*>(data));
  std::ostringstream os;
  os << "[";
  for (int64_t i = 0; i < size_; ++i) {
    if (i) os << ", ";
    const double v = ReadElement(data, dtype_, i);
    if (IsFloat(dtype_)) os << Num(v); else os << static_cast<int64_t>(v);
  }
  os << "]";
  return os.str();
}

std::string Space::ToString() const {
  switch (kind_) {
    case SpaceKind::kDiscrete:
      return start_ == 0 ? StrCat("Discrete(", n_, ")") : StrCat("Discrete(", n_, ", start=", start_, ")");
    case SpaceKind::kMultiDiscrete: return StrCat("MultiDiscrete([", Join(nvec_, " "), "])");
    case SpaceKind::kMultiBinary: return StrCat("MultiBinary(", size_, ")");
    case SpaceKind::kBox: {
      std::string lo, hi;
      if (AllEqual(low_) && AllEqual(high_)) {
        lo = Num(low_[0]);
        hi = Num(high_[0]);
      } else {
        std::vector<std::string> l, h;
        for (double v : low_) l.push_back(Num(v));
        for (double v : high_) h.push_back(Num(v));
        lo = "[" + Join(l, " ") + "]";
        hi = "[" + Join(h, " ") + "]";
      }
      return StrCat("Box(", lo, ", ", hi, ", ", ShapeString(shape_), ", ", DTypeName(dtype_), ")");
    }
  }
  return "?";
}

bool operator==(const Space& a, const Space& b) {
  return a.kind_ == b.kind_ && a.dtype_ == b.dtype_ && a.shape_ == b.shape_ && a.n_ == b.n_ &&
         a.start_ == b.start_ && a.low_ == b.low_ && a.high_ == b.high_ && a.nvec_ == b.nvec_;
}

}  // namespace rlforge
