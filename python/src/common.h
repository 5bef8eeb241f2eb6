// Helpers shared by rlforge's two extension modules (python/rlforge/):
// _rlforge (envs, vector envs, datasets; no libtorch, so that rlforge's envs
// share a process with any PyTorch) and _rlforge_train (the agents, on the
// libtorch rlforge was built with).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rlforge/core/error.h"
#include "rlforge/core/warning.h"
#include "rlforge/env/env.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/wrappers.h"

namespace py = pybind11;

namespace rlforge {

inline py::dtype NumpyDType(DType d) { return py::dtype(DTypeName(d)); }

// A space as a plain dict; python/rlforge/spaces.py makes the gymnasium space.
inline py::dict SpaceDict(const Space& s) {
  py::dict d;
  d["dtype"] = DTypeName(s.dtype());
  d["shape"] = py::tuple(py::cast(s.shape()));
  switch (s.kind()) {
    case SpaceKind::kDiscrete:
      d["kind"] = "Discrete";
      d["n"] = s.n();
      d["start"] = s.start();
      break;
    case SpaceKind::kBox:
      d["kind"] = "Box";
      d["low"] = s.low();
      d["high"] = s.high();
      break;
    case SpaceKind::kMultiDiscrete:
      d["kind"] = "MultiDiscrete";
      d["nvec"] = s.nvec();
      break;
    case SpaceKind::kMultiBinary:
      d["kind"] = "MultiBinary";
      d["n"] = s.size();
      break;
  }
  return d;
}

inline py::dict InfoDict(const Info& info) {
  py::dict d;
  for (int k = 0; k < info.size(); ++k) d[info.key(k)] = info.value(k);
  return d;
}

// Kwargs from a dict of Python values (str() of each; bools as true/false).
inline Kwargs ToKwargs(const py::dict& kwargs) {
  Kwargs out;
  for (const auto& item : kwargs) {
    const std::string key = py::str(item.first);
    const py::handle v = item.second;
    if (py::isinstance<py::bool_>(v)) out.Set(key, v.cast<bool>() ? "true" : "false");
    else out.Set(key, py::str(v));
  }
  return out;
}

// The shape of one element of `space` as numpy sees it ([] for Discrete).
inline std::vector<py::ssize_t> ElementShape(const Space& s) { return {s.shape().begin(), s.shape().end()}; }

// Why `value` is not a valid element of `space` ("" if it is): in the space
// for Discrete/MultiDiscrete/MultiBinary, finite for Box (whose bounds may be
// wider in practice, e.g. unnormalized observations).
inline std::string WhyInvalid(const Space& space, const void* value) {
  return space.kind() == SpaceKind::kBox ? space.WhyNotFinite(value) : space.WhyNotContained(value);
}

// The legal values of MultiDiscrete dimension `dim` of `env` once the earlier
// ones are `prefix` (envs whose dimensions restrict each other: TowerDefense).
inline py::array ConditionalMaskOf(const Env& env, const std::string& id, const std::vector<int64_t>& prefix, int dim) {
  RLF_CHECK_ARG(env.has_conditional_action_mask(), id, " has no conditional action masks");
  const Space& s = env.action_space();
  const int dims = static_cast<int>(s.nvec().size());
  RLF_CHECK_ARG(dim >= 0 && dim < dims, "dim must be in 0..", dims - 1, ", got ", dim);
  RLF_CHECK_ARG(static_cast<int>(prefix.size()) >= dim, "prefix needs the values of the ", dim,
                " dimensions before dim ", dim, ", got ", prefix.size());
  for (int k = 0; k < dim; ++k)
    RLF_CHECK_ARG(prefix[k] >= 0 && prefix[k] < s.nvec()[k], "prefix value ", prefix[k], " of dimension ", k,
                  " is outside 0..", s.nvec()[k] - 1);
  py::array_t<uint8_t> out(s.nvec()[dim]);
  env.ConditionalActionMask(prefix.data(), dim, out.mutable_data());
  return out;
}

// Set while this thread runs a long call for Python with the GIL released
// (rlforge.train): its warnings take the GIL back to reach Python.
inline thread_local bool python_caller_thread = false;

// The GIL released for a long call of the calling thread (its warnings still
// reach Python: WarnInPython).
class ReleasedForPython {
 public:
  ReleasedForPython() { python_caller_thread = true; }
  ~ReleasedForPython() { python_caller_thread = false; }

 private:
  py::gil_scoped_release release_;  // constructed first, so released before the flag is set
};

// rlforge's warnings as Python's (RuntimeWarning) on the thread of a Python
// call (holding the GIL, or having released it: ReleasedForPython); others
// (C++ worker threads) go to stderr. A filter that makes them errors raises.
// They name the user's line that called rlforge (rlforge._native.warn_outside).
inline bool WarnInPython(const std::string& message) {
  auto warn = [&] { py::module_::import("rlforge._native").attr("warn_outside")(message); };
  if (PyGILState_Check()) {
    warn();
    return true;
  }
  if (!python_caller_thread) return false;
  py::gil_scoped_acquire acquire;
  warn();
  return true;
}

// [n, *space.shape]: the shape of a batch of n elements.
inline std::vector<py::ssize_t> BatchShape(py::ssize_t n, const Space& s) {
  std::vector<py::ssize_t> shape = {n};
  shape.insert(shape.end(), s.shape().begin(), s.shape().end());
  return shape;
}

// Checks that `a` is a C-contiguous array of `dtype` with exactly `bytes` bytes.
// numpy's dtype equality, not identity: int64 has two descriptors on Linux
// ('l', and 'q' as onnxruntime returns it), equal but distinct objects.
inline void CheckBuffer(const py::array& a, const Space& space, size_t bytes, const char* what) {
  const py::dtype want = NumpyDType(space.dtype());
  const int same = PyObject_RichCompareBool(a.dtype().ptr(), want.ptr(), Py_EQ);
  if (same < 0) throw py::error_already_set();
  RLF_CHECK_ARG(same == 1, what, " must be ", DTypeName(space.dtype()), ", got ",
                std::string(py::str(a.dtype())));
  RLF_CHECK_ARG(a.flags() & py::array::c_style, what, " must be C-contiguous");
  RLF_CHECK_ARG(static_cast<size_t>(a.nbytes()) == bytes, what, " has ", a.nbytes(), " bytes, expected ", bytes);
}

// A numpy view of a vector env buffer that keeps the vector env alive.
template <typename T>
py::array View(py::object self, const T* data, std::vector<py::ssize_t> shape, py::dtype dtype) {
  py::array a(dtype, shape, {}, data, self);
  a.attr("setflags")(py::arg("write") = false);  // the C++ buffers are written by C++ only
  return a;
}

// ---- Python envs behind the C++ Env interface ------------------------------------

// "TypeName: message" of a Python exception, on one line (no traceback).
inline std::string PythonError(const py::error_already_set& e) {
  std::string type = "Exception", message;
  try {
    type = py::str(e.type().attr("__name__"));
    message = py::str(e.value());
  } catch (...) {
  }
  return OneLine(message.empty() ? type : type + ": " + message);
}

// The rlforge Space of a gymnasium space (Discrete, Box, MultiDiscrete,
// MultiBinary; with tuple_of_discrete, a Tuple of Discretes starting at 0 —
// Blackjack-v1's observations — as the MultiDiscrete of the same values).
inline Space FromGymnasium(const py::handle& space, const std::string& what, bool tuple_of_discrete = false) {
  const std::string kind = py::str(space.get_type().attr("__name__"));
  if (kind == "Tuple" && tuple_of_discrete) {
    std::vector<int64_t> nvec;
    const py::object discrete_type = py::module_::import("gymnasium.spaces").attr("Discrete");
    for (const py::handle sub : space.attr("spaces")) {
      const bool discrete = py::isinstance(sub, discrete_type);
      RLF_CHECK_ARG(discrete && sub.attr("start").cast<int64_t>() == 0, what, " space ", std::string(py::str(space)),
                    " is not supported: a Tuple only of Discrete spaces starting at 0 (read as a MultiDiscrete)");
      nvec.push_back(sub.attr("n").cast<int64_t>());
    }
    RLF_CHECK_ARG(!nvec.empty(), what, " space: an empty Tuple");
    return Space::MultiDiscrete(nvec);
  }
  if (kind == "Discrete") return Space::Discrete(space.attr("n").cast<int64_t>(), space.attr("start").cast<int64_t>());
  if (kind == "MultiDiscrete") {
    py::array_t<int64_t> nvec = py::array_t<int64_t, py::array::forcecast>::ensure(space.attr("nvec"));
    RLF_CHECK_ARG(nvec && nvec.ndim() == 1, what, " space: only 1-D MultiDiscrete spaces are supported");
    return Space::MultiDiscrete(std::vector<int64_t>(nvec.data(), nvec.data() + nvec.size()));
  }
  if (kind == "MultiBinary") {
    const auto shape = space.attr("shape").cast<std::vector<int64_t>>();
    RLF_CHECK_ARG(shape.size() == 1, what, " space: only 1-D MultiBinary spaces are supported");
    return Space::MultiBinary(shape[0]);
  }
  if (kind == "Box") {
    const std::string dtype = py::str(space.attr("dtype"));
    DType d;
    if (dtype == "float32") d = DType::kFloat32;
    else if (dtype == "float64") d = DType::kFloat64;
    else if (dtype == "uint8") d = DType::kUInt8;
    else if (dtype == "int8") d = DType::kInt8;
    else if (dtype == "int64") d = DType::kInt64;
    else throw InvalidArgument(StrCat(what, " space: Box of ", dtype, " is not supported (float32, float64, uint8, int8, int64)"));
    auto flat = [&](const char* name) {
      py::array_t<double> a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(space.attr(name));
      return std::vector<double>(a.data(), a.data() + a.size());
    };
    return Space::Box(flat("low"), flat("high"), space.attr("shape").cast<std::vector<int64_t>>(), d);
  }
  throw InvalidArgument(StrCat(what, " space ", std::string(py::str(space)),
                               " is not supported (Discrete, Box, MultiDiscrete, MultiBinary)"));
}

class PythonEnv : public Env {
 public:
  PythonEnv(py::object env, std::string id) : env_(std::move(env)), id_(std::move(id)) {
    obs_space_ = FromGymnasium(env_.attr("observation_space"), id_ + "'s observation", /*tuple_of_discrete=*/true);
    act_space_ = FromGymnasium(env_.attr("action_space"), id_ + "'s action");
  }
  ~PythonEnv() override {
    py::gil_scoped_acquire gil;
    env_ = py::object();
  }

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return id_; }

  void Reset(std::optional<uint64_t> seed, void* obs, Info* info) override {
    py::gil_scoped_acquire gil;
    Call("reset", [&] {
      info->Clear();
      py::tuple r = seed ? env_.attr("reset")(py::arg("seed") = *seed) : env_.attr("reset")();
      RLF_CHECK(r.size() == 2, id_, ": reset() must return (observation, info)");
      WriteObservation(r[0], obs);
      CopyInfo(r[1], info);
    });
  }

  StepResult Step(const void* action, void* obs) override {
    py::gil_scoped_acquire gil;
    StepResult out;
    Call("step", [&] {
      py::object a;
      if (act_space_.kind() == SpaceKind::kDiscrete) {
        a = py::int_(*static_cast<const int64_t*>(action));
      } else {
        py::array arr(NumpyDType(act_space_.dtype()), ElementShape(act_space_));
        std::memcpy(arr.mutable_data(), action, act_space_.nbytes());
        a = arr;
      }
      py::tuple r = env_.attr("step")(a);
      RLF_CHECK(r.size() == 5, id_, ": step() must return (observation, reward, terminated, truncated, info)");
      WriteObservation(r[0], obs);
      out.reward = r[1].cast<double>();
      out.terminated = py::bool_(r[2]);
      out.truncated = py::bool_(r[3]);
      CopyInfo(r[4], &out.info);
    });
    return out;
  }

  std::string RenderText() const override { return id_ + " (a Python env)\n"; }
  std::unique_ptr<Env> Clone() const override { throw Error(id_ + ": a Python env cannot be cloned"); }
  void Restore(const Env&) override { throw Error(id_ + ": a Python env cannot be restored"); }
  // Checkpoints hold no Python env state: a loaded run starts new episodes.
  void SaveState(std::string* out) const override { out->clear(); }
  void LoadState(std::string_view) override {
    static bool warned = false;
    if (!warned) {
      warned = true;
      std::fprintf(stderr, "rlforge: %s is a Python env; its state is not in checkpoints, so its episodes restart\n",
                   id_.c_str());
    }
    std::vector<uint8_t> obs(obs_space_.nbytes());
    Info info;
    Reset(std::nullopt, obs.data(), &info);
  }

 private:
  template <typename Fn>
  void Call(const char* what, Fn&& fn) const {
    try {
      fn();
    } catch (py::error_already_set& e) {
      throw Error(StrCat(id_, ".", what, "() raised ", PythonError(e)));
    } catch (py::cast_error& e) {
      throw Error(StrCat(id_, ".", what, "() returned a value of the wrong type: ", e.what()));
    }
  }

  void WriteObservation(const py::handle& value, void* obs) const {
    py::array a = py::array::ensure(value);
    RLF_CHECK(a, id_, ": the observation is not array-like");
    std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
    RLF_CHECK(shape == ElementShape(obs_space_), id_, ": observation of shape ", std::string(py::str(py::tuple(py::cast(shape)))),
              " does not fit its observation space ", obs_space_.ToString());
    py::array c = py::array::ensure(a.attr("astype")(NumpyDType(obs_space_.dtype())), py::array::c_style);
    // A float observation of an integer space (1.7 in a Discrete) was truncated without a word.
    if (a.dtype().kind() == 'f' && obs_space_.dtype() != DType::kFloat32 && obs_space_.dtype() != DType::kFloat64)
      RLF_CHECK(py::module_::import("numpy").attr("array_equal")(c, a).cast<bool>(), id_, ": observation ",
                std::string(py::str(value)), " holds a fraction; its space ", obs_space_.ToString(), " holds whole numbers");
    std::memcpy(obs, c.data(), obs_space_.nbytes());
    const std::string why = WhyInvalid(obs_space_, obs);
    RLF_CHECK(why.empty(), id_, ": the observation is not valid in its observation space: ", why);
  }

  static void CopyInfo(const py::handle& value, Info* info) {
    if (!py::isinstance<py::dict>(value)) return;
    for (auto item : value.cast<py::dict>()) {
      if (info->size() >= Info::kCapacity) break;
      const py::handle v = item.second;
      if (!(py::isinstance<py::float_>(v) || py::isinstance<py::int_>(v))) continue;  // numbers only
      // Keys must outlive the Info: keep one interned copy of each.
      static std::set<std::string>* keys = new std::set<std::string>();
      std::string name = py::str(item.first);
      auto it = keys->find(name);
      if (it == keys->end()) {
        if (keys->size() >= 4096) continue;  // envs whose info keys never repeat: keep the first 4,096
        it = keys->insert(std::move(name)).first;
      }
      const char* key = it->c_str();
      info->Set(key, v.cast<double>());
    }
  }

  py::object env_;
  std::string id_;
  Space obs_space_, act_space_;
};

// Registers `factory` (a callable returning a gymnasium.Env) as env `id`, so
// that the runner, vector envs and evaluation make it like any other env.
inline void RegisterPythonEnv(const std::string& id, py::object factory) {
  auto* f = new py::object(std::move(factory));  // lives as long as the registry: never freed
  EnvSpec spec;
  spec.id = id;
  spec.description = "a Python env (rlforge.train(env=...))";
  spec.entry_point = [f, id](const Kwargs&) -> std::unique_ptr<Env> {
    py::gil_scoped_acquire gil;
    py::object env;
    try {
      env = (*f)();
    } catch (py::error_already_set& e) {
      throw Error(StrCat("making ", id, " raised ", PythonError(e)));
    }
    RLF_CHECK_ARG(py::hasattr(env, "observation_space") && py::hasattr(env, "action_space") &&
                      py::hasattr(env, "step") && py::hasattr(env, "reset"),
                  "the function for ", id, " returned ", std::string(py::str(py::repr(env))), ", not a gymnasium.Env");
    return std::make_unique<PythonEnv>(std::move(env), id);
  };
  Registry::Global().Register(std::move(spec));
}

// C++ errors become Python exceptions with the same one-line message
// (_rlforge_train adds KeyboardInterrupt for an interrupted run).
inline void RegisterErrorTranslator() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

}  // namespace rlforge
