// rlforge/core/state_io.h — byte serialization of plain state, for
// checkpoints that resume exactly.
//
// An object lists its mutable fields once, in a template member
//   template <class Archive> void Fields(Archive& ar) { ar(x_); ar(v_); }
// and the same function both writes (StateWriter) and reads (StateReader).
// Trivially copyable values are stored as raw bytes, vectors and strings with
// a length prefix. The format is for checkpoints written and read by the same
// build on the same machine type; a StateReader that runs out of bytes, or is
// left with extra ones, throws Error("... truncated or corrupt").
#ifndef RLFORGE_CORE_STATE_IO_H_
#define RLFORGE_CORE_STATE_IO_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "rlforge/core/error.h"

namespace rlforge {

class StateWriter {
 public:
  explicit StateWriter(std::string* out) : out_(out) {}
  template <typename T>
  void operator()(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>, "StateWriter: field is not trivially copyable");
    out_->append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <typename T>
  void operator()(const std::vector<T>& v) {
    (*this)(static_cast<uint64_t>(v.size()));
    if constexpr (std::is_trivially_copyable_v<T>) {
      Raw(v.data(), v.size() * sizeof(T));
    } else {
      for (const auto& x : v) (*this)(x);
    }
  }
  // n bytes as they are (the reader must know n).
  void Raw(const void* data, size_t n) { out_->append(static_cast<const char*>(data), n); }
  void operator()(const std::string& s) {
    (*this)(static_cast<uint64_t>(s.size()));
    out_->append(s);
  }

 private:
  std::string* out_;
};

class StateReader {
 public:
  StateReader(std::string_view in, std::string what) : in_(in), what_(std::move(what)) {}
  template <typename T>
  void operator()(T& v) {
    static_assert(std::is_trivially_copyable_v<T>, "StateReader: field is not trivially copyable");
    Need(sizeof(T));
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
  }
  template <typename T>
  void operator()(std::vector<T>& v) {
    uint64_t n = 0;
    (*this)(n);
    RLF_CHECK(n <= in_.size() - pos_, what_, " is truncated or corrupt");
    if constexpr (std::is_trivially_copyable_v<T>) {
      Need(n * sizeof(T));
      v.resize(n);
      Raw(v.data(), n * sizeof(T));
    } else {
      v.resize(n);
      for (auto& x : v) (*this)(x);
    }
  }
  void Raw(void* data, size_t n) {
    Need(n);
    std::memcpy(data, in_.data() + pos_, n);
    pos_ += n;
  }
  void operator()(std::string& s) {
    uint64_t n = 0;
    (*this)(n);
    Need(n);
    s.assign(in_.data() + pos_, n);
    pos_ += n;
  }
  void ExpectEnd() const { RLF_CHECK(pos_ == in_.size(), what_, " is corrupt (", in_.size() - pos_, " extra bytes)"); }

 private:
  void Need(uint64_t n) const { RLF_CHECK(n <= in_.size() - pos_, what_, " is truncated or corrupt"); }
  std::string_view in_;
  std::string what_;
  size_t pos_ = 0;
};

}  // namespace rlforge

#endif  // RLFORGE_CORE_STATE_IO_H_
