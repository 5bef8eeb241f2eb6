// rlforge._rlforge_train: the agents of the Python package (rlforge.train,
// resume, show_config, trained policies, exports) on the libtorch rlforge was
// built with. The package loads it on first use (python/rlforge/_native.py),
// so that `import rlforge` and its envs (module.cc) never load libtorch. Envs
// registered from Python are registered here too: each module holds its own
// env registry.
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "rlforge/algos/algorithm.h"
#include "rlforge/core/file_io.h"
#include "rlforge/env/policy.h"
#include "rlforge/nn/blas.h"
#include "rlforge/train/export.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/train_config.h"

namespace rlforge {
namespace {

// ---- trained policies ------------------------------------------------------------

class PyPolicy {
 public:
  explicit PyPolicy(const std::string& path) {
    py::gil_scoped_release release;
    run_ = LoadRun(path);
    if (!run_.algorithm->acts()) run_.algorithm->MakePolicy(true);  // throws, naming why it is no policy
    auto env = Make(run_.config.run.env, run_.config.run.env_kwargs);
    obs_space_ = env->observation_space();
    act_space_ = env->action_space();
    has_mask_ = env->has_action_mask();
  }

  Policy& policy(bool deterministic) {
    auto& p = deterministic ? greedy_ : sampling_;
    if (!p) p = run_.algorithm->MakePolicy(deterministic);
    return *p;
  }

  // observations [n, obs] (obs dtype), masks [n, mask] uint8 or None -> actions [n, act].
  // starts [n] (1 where a row begins an episode): recurrent policies zero
  // those rows' states first (others ignore it). conditional(prefix, dim)
  // -> uint8 mask of dimension dim (one row: an env with conditional masks):
  // the policy chooses dimension by dimension under it, as evaluation does.
  py::array Act(const py::array& obs, std::optional<py::array_t<uint8_t, py::array::c_style | py::array::forcecast>> masks,
                int64_t n, bool deterministic,
                std::optional<py::array_t<uint8_t, py::array::c_style | py::array::forcecast>> starts,
                std::optional<py::function> conditional) {
    RLF_CHECK_ARG(acting_.load() != std::this_thread::get_id(),
                  "predict was called again from inside its own conditional-mask callback");
    CheckBuffer(obs, obs_space_, obs_space_.nbytes() * n, "observations");
    for (int64_t i = 0; i < n; ++i) {
      const void* row = static_cast<const uint8_t*>(obs.data()) + i * obs_space_.nbytes();
      const std::string why = WhyInvalid(obs_space_, row);
      RLF_CHECK_ARG(why.empty(), "observation ", i, ": ", why);
    }
    const uint8_t* m = nullptr;
    if (masks) {
      RLF_CHECK_ARG(has_mask_, run_.config.run.env, " has no action mask: predict takes no mask");
      const int64_t k = act_space_.mask_size();
      RLF_CHECK_ARG(static_cast<int64_t>(masks->size()) == n * k, "the mask must hold ", k,
                    " entries per observation, got ", masks->size(), " for ", n);
      m = masks->data();
      for (int64_t i = 0; i < n; ++i) {
        bool any = false;
        for (int64_t j = 0; j < k; ++j) {
          RLF_CHECK_ARG(m[i * k + j] <= 1, "mask entries must be 0 or 1, got ", int(m[i * k + j]));
          any = any || m[i * k + j];
        }
        RLF_CHECK_ARG(any, "the mask of observation ", i, " allows no action");
      }
    }
    if (starts) {
      RLF_CHECK_ARG(static_cast<int64_t>(starts->size()) == n, "episode_start must hold one entry per observation, got ",
                    starts->size(), " for ", n);
      for (int64_t i = 0; i < n; ++i)
        RLF_CHECK_ARG(starts->data()[i] <= 1, "episode_start entries must be 0/1 or booleans");
    }
    py::array out(NumpyDType(act_space_.dtype()), BatchShape(n, act_space_));
    if (n == 0) return out;
    Policy& p = policy(deterministic);
    if (p.recurrent()) {
      // One state per row lives in each (greedy, sampling) policy object and
      // restarts when the batch size changes: a switch of either in the
      // middle of episodes would silently continue from another state.
      bool all_start = starts.has_value();
      for (int64_t i = 0; all_start && i < n; ++i) all_start = starts->data()[i] != 0;
      if (last_n_ > 0 && !all_start && (n != last_n_ || deterministic != last_deterministic_))
        throw InvalidArgument(StrCat("this recurrent policy stepped ", last_n_, " rows ",
                                     last_deterministic_ ? "deterministically" : "stochastically",
                                     "; a call with ", n, " rows ", deterministic ? "deterministic" : "stochastic",
                                     " would continue from another state: pass episode_start with every row true "
                                     "to begin new episodes"));
      last_n_ = n, last_deterministic_ = deterministic;
    }
    const void* o = obs.data();
    void* a = out.mutable_data();
    RLF_CHECK_ARG(!conditional || n == 1, "conditional masks take one observation, got ", n);
    // The callback refers to this call's function, used under the GIL only
    // (no reference counting while the GIL is released).
    const py::function* fn = conditional ? &*conditional : nullptr;
    const std::vector<int64_t> nvec = act_space_.nvec();
    ConditionalMaskFn mask_fn;
    if (fn)
      mask_fn = [fn, &nvec](int, const int64_t* prefix, int dim, uint8_t* mask) {
        py::gil_scoped_acquire acquire;
        const py::array_t<uint8_t, py::array::c_style | py::array::forcecast> got =
            (*fn)(std::vector<int64_t>(prefix, prefix + dim), dim);
        RLF_CHECK_ARG(static_cast<int64_t>(got.size()) == nvec[dim], "the conditional mask of dimension ", dim,
                      " must hold ", nvec[dim], " entries, got ", got.size());
        std::copy(got.data(), got.data() + got.size(), mask);
      };
    {
      py::gil_scoped_release release;
      // One call at a time: the policy objects (their recurrent states and
      // this call's callback) are shared by every thread using this policy.
      std::lock_guard<std::mutex> lock(mu_);
      struct Acting {
        PyPolicy& self;
        Policy& p;
        Acting(PyPolicy& s, Policy& q, ConditionalMaskFn f) : self(s), p(q) {
          self.acting_ = std::this_thread::get_id();
          p.set_conditional_mask(std::move(f));
        }
        ~Acting() {
          p.set_conditional_mask(nullptr);
          self.acting_ = std::thread::id();
        }
      } acting(*this, p, std::move(mask_fn));
      if (starts) p.StartEpisodes(starts->data(), static_cast<int>(n));
      p.Act(o, m, static_cast<int>(n), a);
    }
    return out;
  }

  LoadedRun run_;
  Space obs_space_, act_space_;
  bool has_mask_ = false;
  std::unique_ptr<Policy> greedy_, sampling_;
  // Recurrent policies: the batch size and mode of the last call.
  int64_t last_n_ = 0;
  bool last_deterministic_ = true;
  std::mutex mu_;                         // held by the acting call
  std::atomic<std::thread::id> acting_{};  // the thread of the acting call
};

// Resolve's notes (a dataset's ignored kwargs) as Python warnings, worded
// for Python as the runner's errors are.
void WarnNotes(const TrainConfig& config) {
  for (const auto& note : config.notes)
    py::module_::import("warnings").attr("warn")(py::module_::import("rlforge.agents").attr("_python_wording")(note));
}

py::dict ResultDict(const TrainResult& r) {
  py::dict d;
  d["run_dir"] = r.run_dir;
  d["timesteps"] = r.timesteps;
  d["seconds"] = r.seconds;
  d["eval_mean_return"] = r.eval.mean_return;
  d["eval_std_return"] = r.eval.std_return;
  d["eval_episodes"] = r.eval.episodes;
  return d;
}

}  // namespace
}  // namespace rlforge

PYBIND11_MODULE(_rlforge_train, m) {
  using namespace rlforge;
  m.doc() = "rlforge's native agents (see the rlforge package)";
  RegisterErrorTranslator();
  SetWarningHandler(WarnInPython);
  // Tried first: a run stopped by Ctrl-C is a KeyboardInterrupt (others fall
  // through to the translator above).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });

  m.def("algorithms", [] {
    std::vector<std::string> names;
    for (const auto& a : Algorithms()) names.push_back(a.name);
    return names;
  });
  m.def("register_python_env", &RegisterPythonEnv, py::arg("id"), py::arg("factory"),
        "registers a factory of gymnasium.Env as an rlforge env ID");
  m.def("blas_core", &BlasCoreName, "OpenBLAS's kernel set (set OPENBLAS_CORETYPE before Python starts to change it)");

  py::class_<PyPolicy>(m, "Policy")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def_property_readonly("observation_space", [](const PyPolicy& p) { return SpaceDict(p.obs_space_); })
      .def_property_readonly("action_space", [](const PyPolicy& p) { return SpaceDict(p.act_space_); })
      .def_property_readonly("has_action_mask", [](const PyPolicy& p) { return p.has_mask_; })
      .def_property_readonly("algo", [](const PyPolicy& p) { return p.run_.config.run.algo; })
      .def_property_readonly("env_id", [](const PyPolicy& p) { return p.run_.config.run.env; })
      .def_property_readonly("env_kwargs", [](const PyPolicy& p) { return p.run_.config.run.env_kwargs.items(); })
      .def_property_readonly("timesteps", [](const PyPolicy& p) { return p.run_.algorithm->num_timesteps(); })
      .def_property_readonly("recurrent", [](PyPolicy& p) { return p.policy(true).recurrent(); })
      .def("act", &PyPolicy::Act, py::arg("observations"), py::arg("masks"), py::arg("n"), py::arg("deterministic"),
           py::arg("starts") = py::none(), py::arg("conditional") = py::none());

  m.def(
      "train",
      [](const std::string& algo, const std::string& env, const std::vector<std::string>& sets,
         std::optional<int64_t> steps, std::optional<int64_t> seed, const std::string& out, const std::string& preset,
         bool progress) {
        TrainConfig config = TrainConfig::Resolve(algo, env, "", sets, steps, seed, preset);
        WarnNotes(config);
        RunnerOptions opt;
        opt.progress = progress;
        TrainResult r;
        {
          ReleasedForPython release;
          r = Train(std::move(config), out, opt);
        }
        return ResultDict(r);
      },
      py::arg("algo"), py::arg("env"), py::arg("sets"), py::arg("steps"), py::arg("seed"), py::arg("out"),
      py::arg("preset"), py::arg("progress"));
  m.def(
      "export_policy",
      [](const std::string& run, std::string format, const std::string& out, const std::string& quantize) {
        format = ExportFormatFor(format, out, "format");
        RLF_CHECK_ARG(quantize.empty() || quantize == "int8", "quantize takes 'int8' (or None), got '", quantize, "'");
        RLF_CHECK_ARG(quantize.empty() || format == "rlf", "quantize='int8' is for the rlf runtime's format, not '",
                      format, "'");
        const std::string problem = OutputFileProblem(out);
        RLF_CHECK_ARG(problem.empty(), "cannot export to ", out, ": ", problem);
        LoadedRun r = LoadRun(run);
        runtime::Model model = r.algorithm->Export();
        if (!quantize.empty()) runtime::Quantize(&model);
        WriteExport(model, format, out);
        return model.Describe();
      },
      py::arg("run"), py::arg("format"), py::arg("out"), py::arg("quantize"));
  m.def(
      "resume",
      [](const std::string& dir, std::optional<int64_t> steps, bool progress) {
        RunnerOptions opt;
        opt.progress = progress;
        TrainResult r;
        {
          ReleasedForPython release;
          r = Resume(dir, steps, opt);
        }
        return ResultDict(r);
      },
      py::arg("dir"), py::arg("steps"), py::arg("progress"));
  m.def(
      "show_config",
      [](const std::string& algo, const std::string& env, const std::vector<std::string>& sets,
         std::optional<int64_t> steps, std::optional<int64_t> seed, const std::string& preset) {
        TrainConfig config = TrainConfig::Resolve(algo, env, "", sets, steps, seed, preset);
        WarnNotes(config);
        return config.ToYaml();
      },
      py::arg("algo"), py::arg("env"), py::arg("sets"), py::arg("steps"), py::arg("seed"), py::arg("preset"));
}
