// rlforge/core/state_io.h — state that is saved and loaded by one function,
// for checkpoints that resume exactly.
//
// Two levels, both listing an object's state once for writing and reading:
//   - Plain state as bytes: an object lists its mutable fields in a template
//     member
//       template <class Archive> void Fields(Archive& ar) { ar(x_); ar(v_); }
//     and the same function both writes (StateWriter) and reads
//     (StateReader). Trivially copyable values are stored as raw bytes,
//     vectors, strings and string->double maps with a length prefix. Envs
//     (EnvBase::SaveState), running statistics and buffers use it.
//   - Named fields: an agent lists its checkpoint in
//       void VisitState(StateVisitor& v) { v("steps", &steps_); v("replay", &replay_); ... }
//     StateVisitor stores each field as a named blob of bytes (a checkpoint
//     file: rlforge/core/checkpoint_file.h); operator() handles plain values,
//     vectors, objects with Fields() and objects with SaveState/LoadState,
//     and the torch layer adds networks, optimizers and generators
//     (rlforge/nn/state.h). Loading a field that was never saved throws Error.
// The format is for checkpoints written and read by the same build on the
// same machine type; a StateReader that runs out of bytes, or is left with
// extra ones, throws Error("... truncated or corrupt").
#ifndef RLFORGE_CORE_STATE_IO_H_
#define RLFORGE_CORE_STATE_IO_H_

#include <cstdint>
#include <cstring>
#include <map>
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
  void Raw(const void* data, size_t n) {
    if (n > 0) out_->append(static_cast<const char*>(data), n);
  }
  void operator()(const std::string& s) {
    (*this)(static_cast<uint64_t>(s.size()));
    out_->append(s);
  }
  void operator()(const std::map<std::string, double>& m) {
    (*this)(static_cast<uint64_t>(m.size()));
    for (const auto& [k, v] : m) (*this)(k), (*this)(v);
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
    if (n == 0) return;  // data may be null (an empty vector)
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
  void operator()(std::map<std::string, double>& m) {
    uint64_t n = 0;
    (*this)(n);
    RLF_CHECK(n <= in_.size() - pos_, what_, " is truncated or corrupt");
    m.clear();
    for (uint64_t i = 0; i < n; ++i) {
      std::string k;
      double v = 0;
      (*this)(k), (*this)(v);
      m[k] = v;
    }
  }
  void ExpectEnd() const { RLF_CHECK(pos_ == in_.size(), what_, " is corrupt (", in_.size() - pos_, " extra bytes)"); }

 private:
  void Need(uint64_t n) const { RLF_CHECK(n <= in_.size() - pos_, what_, " is truncated or corrupt"); }
  std::string_view in_;
  std::string what_;
  size_t pos_ = 0;
};

// Whether T lists its state with `template <class A> void Fields(A&)`.
template <typename T, typename = void>
struct HasStateFields : std::false_type {};
template <typename T>
struct HasStateFields<T, std::void_t<decltype(std::declval<T&>().Fields(std::declval<StateWriter&>()))>>
    : std::true_type {};

// Whether T saves itself as bytes: SaveState(std::string*) const and
// LoadState(std::string_view).
template <typename T, typename = void>
struct HasSaveState : std::false_type {};
template <typename T>
struct HasSaveState<T, std::void_t<decltype(std::declval<const T&>().SaveState(std::declval<std::string*>())),
                                   decltype(std::declval<T&>().LoadState(std::declval<std::string_view>()))>>
    : std::true_type {};

// A checkpoint being written or read, field by field (see the header comment).
class StateVisitor {
 public:
  virtual ~StateVisitor() = default;
  // True while reading a checkpoint back.
  virtual bool loading() const = 0;
  // The primitive: saving stores *bytes under `name`; loading replaces *bytes
  // with what was stored (Error naming the field when there is none).
  virtual void Bytes(const std::string& name, std::string* bytes) = 0;

  // A field of plain state: trivially copyable values, vectors, strings and
  // maps (StateWriter's types), objects with Fields(), and objects with
  // SaveState/LoadState (envs, vector envs, replay buffers).
  template <typename T>
  void operator()(const std::string& name, T* value) {
    std::string bytes;
    if constexpr (HasSaveState<T>::value) {
      if (!loading()) value->SaveState(&bytes);
      Bytes(name, &bytes);
      if (loading()) value->LoadState(bytes);
    } else {
      if (!loading()) {
        StateWriter w(&bytes);
        if constexpr (HasStateFields<T>::value) {
          value->Fields(w);
        } else {
          w(*value);
        }
      }
      Bytes(name, &bytes);
      if (loading()) {
        StateReader r(bytes, "checkpoint field '" + name + "'");
        if constexpr (HasStateFields<T>::value) {
          value->Fields(r);
        } else {
          r(*value);
        }
        r.ExpectEnd();
      }
    }
  }
};

// Forwards every field to `inner` under "<prefix>/<name>" (an agent that
// holds several parts of the same kind, e.g. A3C's workers).
class PrefixedStateVisitor : public StateVisitor {
 public:
  PrefixedStateVisitor(StateVisitor& inner, std::string prefix) : inner_(inner), prefix_(std::move(prefix)) {}
  bool loading() const override { return inner_.loading(); }
  void Bytes(const std::string& name, std::string* bytes) override { inner_.Bytes(prefix_ + "/" + name, bytes); }

 private:
  StateVisitor& inner_;
  std::string prefix_;
};

}  // namespace rlforge

#endif  // RLFORGE_CORE_STATE_IO_H_
