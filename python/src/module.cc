// rlforge._rlforge: the native half of the Python package (python/rlforge/)
// for envs, vector envs and datasets (rlforge/env, rlforge/envs, rlforge/data).
//
// It does not link libtorch: a process may hold only one libtorch, and users
// step rlforge's envs beside PyTorch (Stable-Baselines3, CleanRL). The agents
// live in rlforge._rlforge_train (train_module.cc), which the package loads on
// first use. Arrays cross as numpy arrays; a vector env's batch buffers cross
// as numpy views that keep the vector env alive. The GIL is released while C++
// steps or resets. Python-side conveniences (gymnasium spaces, infos) live in
// python/rlforge/.
#include <cstdio>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "common.h"
#include "rlforge/data/dataset.h"
#include "rlforge/env/async_vector_env.h"
#include "rlforge/env/image.h"
#include "rlforge/env/policy.h"
#include "rlforge/env/transition_model.h"
#include "rlforge/env/vector_env.h"

namespace rlforge {
namespace {

// ---- one env -----------------------------------------------------------------

// Python steps one agent per env: an env in which several agents act at
// every step (Arena-v0 with opponent=external) has no API here for the
// others' actions, so it is refused when made, not at its first step.
void CheckSingleAgent(const std::string& id, const Env& env) {
  RLF_CHECK_ARG(env.num_agents() == 1, id, " with these kwargs has ", env.num_agents(),
                " agents acting at every step; Python steps single-agent envs (Arena-v0: opponent=random, "
                "greedy or tactic; train and evaluate self-play from the CLI)");
}

class PyEnv {
 public:
  PyEnv(const std::string& id, const py::dict& kwargs) : id_(id), env_(Make(id, ToKwargs(kwargs))) {
    CheckSingleAgent(id, *env_);
    obs_.resize(env_->observation_space().nbytes());
    if (const auto* limit = dynamic_cast<const TimeLimit*>(env_.get())) max_steps_ = limit->max_episode_steps();
  }

  // A copy in the same state, RNG included (Python's copy.deepcopy).
  PyEnv Clone() const {
    RLF_CHECK(!busy_, "the env is stepping in another thread");
    return PyEnv(id_, env().Clone(), obs_, max_steps_);
  }
  // The full state as bytes and back (pickling): Env::SaveState/LoadState.
  py::bytes SaveState() const {
    std::string out;
    env().SaveState(&out);
    return py::bytes(out);
  }
  void LoadState(const py::bytes& state) {
    RLF_CHECK(!busy_, "the env is stepping in another thread");
    env().LoadState(std::string_view(state));
  }

  const Env& env() const {
    RLF_CHECK(env_ != nullptr, "the env is closed");
    return *env_;
  }
  Env& env() {
    RLF_CHECK(env_ != nullptr, "the env is closed");
    return *env_;
  }

  py::array Observation() const {
    const Space& s = env().observation_space();
    py::array out(NumpyDType(s.dtype()), ElementShape(s));
    std::memcpy(out.mutable_data(), obs_.data(), obs_.size());
    return out;
  }

  // Marks a call that runs without the GIL, so that close() from another
  // thread cannot free the env under it.
  struct Busy {
    explicit Busy(PyEnv* e) : e(e) {
      RLF_CHECK(!e->busy_, "the env is busy in another thread");
      e->busy_ = true;
    }
    ~Busy() { e->busy_ = false; }
    PyEnv* e;
  };

  py::tuple Reset(std::optional<uint64_t> seed) {
    Info info;
    {
      Busy busy(this);
      Env& en = env();
      py::gil_scoped_release release;
      en.Reset(seed, obs_.data(), &info);
    }
    return py::make_tuple(Observation(), InfoDict(info));
  }

  py::tuple Step(const py::array& action) {
    const Space& a = env().action_space();
    CheckBuffer(action, a, a.nbytes(), "the action");
    StepResult r;
    {
      Busy busy(this);
      Env& en = env();
      py::gil_scoped_release release;
      r = en.Step(action.data(), obs_.data());
    }
    return py::make_tuple(Observation(), r.reward, r.terminated, r.truncated, InfoDict(r.info));
  }

  py::array ActionMask() const {
    RLF_CHECK(env().has_action_mask(), id_, " has no action mask");
    py::array_t<uint8_t> out(env().action_space().mask_size());
    env().ActionMask(out.mutable_data());
    return out;
  }

  // The legal values of MultiDiscrete dimension `dim` once the earlier ones
  // are `prefix` (envs whose dimensions restrict each other: TowerDefense).
  py::array ConditionalActionMask(const std::vector<int64_t>& prefix, int dim) const {
    return ConditionalMaskOf(env(), id_, prefix, dim);
  }

  py::object RenderRgb() const {
    Image image;
    if (!env().RenderRgb(&image)) return py::none();
    py::array_t<uint8_t> out({image.height(), image.width(), 3});
    std::memcpy(out.mutable_data(), image.pixels().data(), image.pixels().size());
    return out;
  }

  PyEnv(std::string id, std::unique_ptr<Env> env, std::vector<uint8_t> obs, std::optional<int64_t> max_steps)
      : id_(std::move(id)), env_(std::move(env)), obs_(std::move(obs)), max_steps_(max_steps) {}

  std::string id_;
  std::unique_ptr<Env> env_;
  std::vector<uint8_t> obs_;
  std::optional<int64_t> max_steps_;
  bool busy_ = false;  // read and written with the GIL held
};

// ---- vector env ----------------------------------------------------------------

class PyVectorEnv {
 public:
  PyVectorEnv(const std::string& id, const py::dict& kwargs, int num_envs, int threads, const std::string& autoreset) {
    VectorEnvOptions opt;
    opt.num_envs = num_envs;
    opt.num_threads = threads;
    opt.autoreset = ParseAutoresetMode(autoreset);
    const Kwargs kw = ToKwargs(kwargs);
    py::gil_scoped_release release;
    envs_ = VectorEnv::Make(id, kw, opt);
    CheckSingleAgent(id, envs_->env(0));
  }

  VectorEnv& envs() {
    RLF_CHECK(!closed_, "the vector env is closed");
    return *envs_;
  }

  void Reset(std::optional<uint64_t> seed, std::optional<py::array_t<uint8_t, py::array::c_style | py::array::forcecast>> mask) {
    VectorEnv& v = envs();
    if (!mask) {
      py::gil_scoped_release release;
      v.Reset(seed);
      return;
    }
    RLF_CHECK_ARG(mask->ndim() == 1 && mask->shape(0) == v.num_envs(), "reset_mask must have shape (", v.num_envs(),
                  ",), got ", mask->ndim() == 1 ? std::to_string(mask->shape(0)) : std::to_string(mask->ndim()) + " dims");
    const uint8_t* m = mask->data();
    py::gil_scoped_release release;
    v.ResetMasked(seed, m);
  }

  void Step(const py::array& actions) {
    VectorEnv& v = envs();
    const Space& as = v.single_action_space();
    CheckBuffer(actions, as, as.nbytes() * v.num_envs(), "actions");
    const void* a = actions.data();  // VectorEnv::Step checks every row before stepping any
    py::gil_scoped_release release;
    v.Step(a);
  }

  // Per-key values and presence masks over the envs: {key: (float64[N], bool[N])}.
  // final_step: the infos of the step that ended each episode (same-step
  // autoreset keeps them apart from the reset's); else the current ones.
  py::dict Infos(bool final_step) {
    VectorEnv& v = envs();
    const int n = v.num_envs();
    const bool same_step = v.autoreset_mode() == AutoresetMode::kSameStep;
    std::map<std::string, std::pair<std::vector<double>, std::vector<uint8_t>>> columns;
    for (int i = 0; i < n; ++i) {
      const Info& info = !final_step && same_step && v.ended()[i] ? v.reset_info(i) : v.info(i);
      for (int k = 0; k < info.size(); ++k) {
        auto& c = columns[info.key(k)];
        if (c.first.empty()) c.first.assign(n, 0.0), c.second.assign(n, 0);
        c.first[i] = info.value(k);
        c.second[i] = 1;
      }
    }
    py::dict out;
    for (auto& [key, c] : columns) {
      py::array_t<double> values(n);
      py::array_t<bool> present(n);
      std::memcpy(values.mutable_data(), c.first.data(), n * sizeof(double));
      for (int i = 0; i < n; ++i) present.mutable_data()[i] = c.second[i] != 0;
      out[py::str(key)] = py::make_tuple(values, present);
    }
    return out;
  }

  std::unique_ptr<VectorEnv> envs_;
  bool closed_ = false;
};

// ---- Datasets (rlforge/data/dataset.h; python/rlforge/datasets.py) ----------

// Checks a numpy array holds rows x row_bytes bytes, C-contiguous (the Python
// layer converts to the space's dtype first).
void CheckBytes(const py::array& a, int64_t rows, int64_t row_bytes, const char* what) {
  RLF_CHECK_ARG(a.flags() & py::array::c_style, what, " must be C-contiguous");
  const int64_t bytes = static_cast<int64_t>(a.nbytes());
  RLF_CHECK_ARG(bytes == rows * row_bytes, what, " holds ", bytes, " bytes; want ", rows, " rows of ", row_bytes);
}

py::array RowsArray(const void* data, int64_t rows, const Space& s, const std::vector<int64_t>& shape) {
  std::vector<py::ssize_t> dims{static_cast<py::ssize_t>(rows)};
  for (int64_t x : shape) dims.push_back(static_cast<py::ssize_t>(x));
  py::array out(NumpyDType(s.dtype()), dims);
  std::memcpy(out.mutable_data(), data, static_cast<size_t>(rows) * s.nbytes());
  return out;
}

std::vector<int64_t> ActionShape(const Space& s) {
  if (s.kind() == SpaceKind::kMultiDiscrete || s.kind() == SpaceKind::kMultiBinary) return {s.size()};
  return s.shape();
}

template <typename T>
py::array_t<T> Copy(const T* data, int64_t n) {
  py::array_t<T> a(static_cast<py::ssize_t>(n));
  if (n > 0) std::memcpy(a.mutable_data(), data, static_cast<size_t>(n) * sizeof(T));
  return a;
}

py::dict LoadDatasetDict(const std::string& dir) {
  Dataset d;
  {
    py::gil_scoped_release release;
    d = ReadDataset(dir);
  }
  const DatasetInfo& i = d.info;
  py::dict out;
  out["dataset_id"] = i.dataset_id;
  out["env_id"] = i.env_id;
  out["env_kwargs"] = i.env_kwargs.items();
  out["algorithm_name"] = i.algorithm_name;
  out["description"] = i.description;
  out["ref_min_score"] = i.ref_min_score ? py::cast(*i.ref_min_score) : py::none();
  out["ref_max_score"] = i.ref_max_score ? py::cast(*i.ref_max_score) : py::none();
  out["observation_space"] = SpaceDict(i.observation_space);
  out["action_space"] = SpaceDict(i.action_space);
  out["observations"] = RowsArray(d.obs.data(), d.rows(), i.observation_space, i.observation_space.shape());
  out["actions"] = RowsArray(d.actions.data(), d.steps(), i.action_space, ActionShape(i.action_space));
  out["rewards"] = Copy(d.rewards.data(), d.steps());
  out["terminations"] = Copy(reinterpret_cast<const bool*>(d.terminated.data()), d.steps());
  out["truncations"] = Copy(reinterpret_cast<const bool*>(d.truncated.data()), d.steps());
  out["episode_first_step"] = Copy(d.episode_first_step.data(), d.episodes());
  out["episode_seed"] = Copy(d.episode_seed.data(), d.episodes());
  if (d.mask_size > 0) {
    py::array_t<bool> m({static_cast<py::ssize_t>(d.rows()), static_cast<py::ssize_t>(d.mask_size)});
    std::memcpy(m.mutable_data(), d.masks.data(), d.masks.size());
    out["action_masks"] = m;
  } else {
    out["action_masks"] = py::none();
  }
  return out;
}

void WriteDatasetArrays(const std::string& dir, const std::string& env_id,
                        const std::map<std::string, std::string>& kwargs, const py::array& observations,
                        const py::array& actions,
                        const py::array_t<double, py::array::c_style | py::array::forcecast>& rewards,
                        const py::array_t<bool, py::array::c_style | py::array::forcecast>& terminations,
                        const py::array_t<bool, py::array::c_style | py::array::forcecast>& truncations,
                        const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& episode_lengths,
                        const py::object& masks, const py::object& seeds,
                        const std::string& dataset_id, const std::string& algorithm_name,
                        const std::string& description, std::optional<double> ref_min, std::optional<double> ref_max) {
  Kwargs kw;
  for (const auto& [k, v] : kwargs) kw.Set(k, v);
  auto env = Registry::Global().Make(env_id, kw);
  DatasetInfo info;
  info.env_id = env_id;
  info.env_kwargs = kw;
  info.dataset_id = dataset_id;
  info.algorithm_name = algorithm_name;
  info.description = description;
  RLF_CHECK_ARG(ref_min.has_value() == ref_max.has_value(), "ref_min_score and ref_max_score go together");
  info.ref_min_score = ref_min;
  info.ref_max_score = ref_max;
  info.observation_space = env->observation_space();
  info.action_space = env->action_space();
  const int64_t E = episode_lengths.size();
  int64_t steps = 0;
  for (int64_t e = 0; e < E; ++e) {
    RLF_CHECK_ARG(episode_lengths.at(e) >= 1, "episode ", e, " has ", episode_lengths.at(e), " steps (>= 1 needed)");
    steps += episode_lengths.at(e);
  }
  const int64_t ob = static_cast<int64_t>(info.observation_space.nbytes());
  const int64_t ab = static_cast<int64_t>(info.action_space.nbytes());
  const int64_t mb = masks.is_none() ? 0 : info.action_space.mask_size();
  RLF_CHECK_ARG(masks.is_none() || mb > 0, env_id, " has no action masks; pass no infos['action_mask']");
  CheckBytes(observations, steps + E, ob, "observations (T + 1 rows per episode)");
  CheckBytes(actions, steps, ab, "actions");
  RLF_CHECK_ARG(rewards.size() == steps && terminations.size() == steps && truncations.size() == steps,
                "rewards, terminations and truncations need one entry per step (", steps, ")");
  py::array_t<bool, py::array::c_style | py::array::forcecast> m;
  if (mb > 0) {
    m = masks.cast<py::array_t<bool, py::array::c_style | py::array::forcecast>>();
    CheckBytes(m, steps + E, mb, "action masks (T + 1 rows per episode)");
  }
  py::array_t<int64_t, py::array::c_style | py::array::forcecast> sd;
  if (!seeds.is_none()) {
    sd = seeds.cast<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>();
    RLF_CHECK_ARG(sd.size() == E, "seeds need one entry per episode (", E, ")");
  }
  Dataset d = Dataset::Empty(info, mb);
  const auto* o = static_cast<const uint8_t*>(observations.data());
  const auto* a = static_cast<const uint8_t*>(actions.data());
  const auto* mk = mb > 0 ? reinterpret_cast<const uint8_t*>(m.data()) : nullptr;
  const auto* term = reinterpret_cast<const uint8_t*>(terminations.data());
  const auto* trunc = reinterpret_cast<const uint8_t*>(truncations.data());
  // Values a learner would refuse are refused here, naming the step: the
  // dataset is written only when it can be trained on.
  const Space& os = info.observation_space;
  const Space& as = info.action_space;
  int64_t t = 0;
  for (int64_t e = 0; e < E; ++e) {
    const int64_t T = episode_lengths.at(e), row = t + e;
    for (int64_t k = 0; k <= T; ++k) {
      const uint8_t* x = o + (row + k) * ob;
      const std::string why = os.kind() == SpaceKind::kBox ? os.WhyNotFinite(x) : os.WhyNotContained(x);
      RLF_CHECK_ARG(why.empty(), "episode ", e, ": observation ", k, ": ", why);
    }
    for (int64_t k = 0; k < T; ++k) {
      const uint8_t* x = a + (t + k) * ab;
      const std::string why = as.WhyNotFinite(x).empty() ? as.WhyNotContained(x) : as.WhyNotFinite(x);
      RLF_CHECK_ARG(why.empty(), "episode ", e, ": action ", k, ": ", why);
      RLF_CHECK_ARG(std::isfinite(rewards.at(t + k)), "episode ", e, ": reward ", k, " is ", rewards.at(t + k),
                    " (not finite)");
    }
    d.AddEpisode(o + row * ob, mk ? mk + row * mb : nullptr, a + t * ab, rewards.data() + t, term + t, trunc + t, T,
                 sd.size() ? sd.at(e) : -1);
    t += T;
  }
  py::gil_scoped_release release;
  WriteDataset(d, dir);
}

}  // namespace
}  // namespace rlforge

PYBIND11_MODULE(_rlforge, m) {
  using namespace rlforge;
  m.doc() = "rlforge's native envs and datasets (see the rlforge package)";
  RegisterErrorTranslator();
  SetWarningHandler(WarnInPython);

  m.def("env_ids", [] { return Registry::Global().Ids(); }, "IDs of the registered envs");
  m.def("env_spec", [](const std::string& id) {
    const EnvSpec& s = Registry::Global().Spec(id);
    py::dict d;
    d["id"] = s.id;
    d["max_episode_steps"] = s.max_episode_steps ? py::cast(*s.max_episode_steps) : py::none();
    d["reward_threshold"] = s.reward_threshold ? py::cast(*s.reward_threshold) : py::none();
    d["description"] = s.description;
    py::list kwargs;
    for (const auto& k : s.kwargs) kwargs.append(py::make_tuple(k.name, k.default_value, k.help));
    d["kwargs"] = kwargs;
    return d;
  });
  m.def("register_python_env", &RegisterPythonEnv, py::arg("id"), py::arg("factory"),
        "registers a factory of gymnasium.Env as an rlforge env ID");
  m.def("load_dataset", &LoadDatasetDict, py::arg("path"), "A Minari dataset's arrays and metadata");
  m.def("write_dataset", &WriteDatasetArrays, py::arg("path"), py::arg("env_id"), py::arg("env_kwargs"),
        py::arg("observations"), py::arg("actions"), py::arg("rewards"), py::arg("terminations"),
        py::arg("truncations"), py::arg("episode_lengths"), py::arg("action_masks"), py::arg("seeds"),
        py::arg("dataset_id"), py::arg("algorithm_name"), py::arg("description"), py::arg("ref_min_score"),
        py::arg("ref_max_score"), "Writes episodes of an rlforge env as a Minari dataset");
  // The libtorch the agents' module (_rlforge_train) links, for the package's
  // check that it may share this process with an imported PyTorch.
  m.attr("torch_library") = RLFORGE_TORCH_LIBRARY;

  py::class_<PyEnv>(m, "Env")
      .def(py::init<const std::string&, const py::dict&>(), py::arg("id"), py::arg("kwargs"))
      .def_property_readonly("observation_space", [](const PyEnv& e) { return SpaceDict(e.env().observation_space()); })
      .def_property_readonly("action_space", [](const PyEnv& e) { return SpaceDict(e.env().action_space()); })
      .def_property_readonly("has_action_mask", [](const PyEnv& e) { return e.env().has_action_mask(); })
      .def_property_readonly("num_players", [](const PyEnv& e) { return e.env().num_players(); })
      .def_property_readonly("current_player", [](const PyEnv& e) { return e.env().current_player(); })
      .def_property_readonly("max_episode_steps", [](const PyEnv& e) { return e.max_steps_; })
      .def_property_readonly("closed", [](const PyEnv& e) { return e.env_ == nullptr; })
      .def("reset", &PyEnv::Reset, py::arg("seed") = py::none())
      .def("step", &PyEnv::Step, py::arg("action"))
      .def("action_mask", &PyEnv::ActionMask)
      .def("conditional_action_mask", &PyEnv::ConditionalActionMask, py::arg("prefix"), py::arg("dim"))
      .def_property_readonly("has_conditional_action_mask",
                             [](const PyEnv& e) { return e.env().has_conditional_action_mask(); })
      .def("set_from_observation",
           [](PyEnv& e, const py::array& obs) {
             const Space& s = e.env().observation_space();
             CheckBuffer(obs, s, s.nbytes(), "the observation");
             return e.env().SetFromObservation(obs.data());
           })
      .def("transition_table",
           [](const PyEnv& e) -> py::object {
             const TransitionModel* m = e.env().transition_model();
             if (!m) return py::none();
             // Gymnasium's P: {s: {a: [(prob, next_state, reward, terminated), ...]}}.
             py::dict table;
             for (int64_t s = 0; s < m->num_states(); ++s) {
               py::dict row;
               for (int64_t a = 0; a < m->num_actions(); ++a) {
                 py::list outcomes;
                 for (const Transition& t : m->Outcomes(s, a))
                   outcomes.append(py::make_tuple(t.prob, t.next_state, t.reward, t.terminated));
                 row[py::int_(a)] = outcomes;
               }
               table[py::int_(s)] = row;
             }
             return py::make_tuple(table, m->initial_distribution());
           })
      .def("clone", &PyEnv::Clone)
      .def("save_state", &PyEnv::SaveState)
      .def("load_state", &PyEnv::LoadState, py::arg("state"))
      .def("render_text", [](const PyEnv& e) { return e.env().RenderText(); })
      .def("render_rgb", &PyEnv::RenderRgb)
      .def("close", [](PyEnv& e) {
        RLF_CHECK(!e.busy_, "close(): the env is stepping in another thread");
        e.env_.reset();
      });

  py::class_<PyVectorEnv>(m, "VectorEnv")
      .def(py::init<const std::string&, const py::dict&, int, int, const std::string&>(), py::arg("id"),
           py::arg("kwargs"), py::arg("num_envs"), py::arg("threads"), py::arg("autoreset"))
      .def_property_readonly("num_envs", [](PyVectorEnv& v) { return v.envs().num_envs(); })
      .def_property_readonly("threads", [](PyVectorEnv& v) { return v.envs().num_threads(); })
      .def_property_readonly("single_observation_space",
                             [](PyVectorEnv& v) { return SpaceDict(v.envs().single_observation_space()); })
      .def_property_readonly("single_action_space",
                             [](PyVectorEnv& v) { return SpaceDict(v.envs().single_action_space()); })
      .def_property_readonly("mask_size", [](PyVectorEnv& v) { return v.envs().mask_size(); })
      .def("reset", &PyVectorEnv::Reset, py::arg("seed") = py::none(), py::arg("mask") = py::none())
      .def("step", &PyVectorEnv::Step, py::arg("actions"))
      .def("infos", &PyVectorEnv::Infos, py::arg("final_step"))
      .def_property_readonly("num_players", [](PyVectorEnv& v) { return v.envs().env(0).num_players(); })
      .def("current_players", [](PyVectorEnv& v) {
        const int n = v.envs().num_envs();
        py::array_t<int64_t> out(n);
        for (int i = 0; i < n; ++i) out.mutable_data()[i] = v.envs().env(i).current_player();
        return out;
      })
      .def_property_readonly("has_conditional_action_mask",
                             [](PyVectorEnv& v) { return v.envs().env(0).has_conditional_action_mask(); })
      .def("conditional_action_mask",
           [](PyVectorEnv& v, int index, const std::vector<int64_t>& prefix, int dim) {
             VectorEnv& e = v.envs();
             RLF_CHECK_ARG(index >= 0 && index < e.num_envs(), "index must be in [0, ", e.num_envs() - 1, "], got ",
                           index);  // (the Python side checks it first)
             return ConditionalMaskOf(e.env(index), e.env(index).name(), prefix, dim);
           })
      .def("episode_stats", [](PyVectorEnv& v) {
        const int n = v.envs().num_envs();
        py::array_t<double> ret(n);
        py::array_t<int64_t> len(n);
        for (int i = 0; i < n; ++i) ret.mutable_data()[i] = v.envs().episode_return(i), len.mutable_data()[i] = v.envs().episode_length(i);
        return py::make_tuple(ret, len);
      })
      // Views of the batch buffers: valid while held (they keep the vector env
      // alive), overwritten by the next step or reset.
      .def("views", [](py::object self) {
        auto& v = self.cast<PyVectorEnv&>().envs();
        const py::ssize_t n = v.num_envs();
        const std::vector<py::ssize_t> obs_shape = BatchShape(n, v.single_observation_space());
        const py::dtype obs_dtype = NumpyDType(v.single_observation_space().dtype());
        py::dict d;
        d["observations"] = View(self, static_cast<const uint8_t*>(v.observations()), obs_shape, obs_dtype);
        d["final_observations"] = View(self, static_cast<const uint8_t*>(v.final_observations()), obs_shape, obs_dtype);
        d["rewards"] = View(self, v.rewards(), {n}, py::dtype::of<float>());
        d["terminated"] = View(self, v.terminated(), {n}, py::dtype::of<bool>());
        d["truncated"] = View(self, v.truncated(), {n}, py::dtype::of<bool>());
        d["ended"] = View(self, v.ended(), {n}, py::dtype::of<bool>());
        if (v.has_action_mask()) {
          d["action_masks"] = View(self, v.action_masks(), {n, v.mask_size()}, py::dtype::of<int8_t>());
          d["final_action_masks"] = View(self, v.final_action_masks(), {n, v.mask_size()}, py::dtype::of<int8_t>());
        }
        return d;
      })
      .def("close", [](PyVectorEnv& v) { v.closed_ = true; })
      .def_property_readonly("closed", [](const PyVectorEnv& v) { return v.closed_; });

  // Destroyed without the GIL: its worker threads may be waiting for it
  // (Python envs), and joining them with the GIL held would deadlock.
  struct AsyncDeleter {
    void operator()(AsyncVectorEnv* p) const {
      if (Py_IsInitialized() && PyGILState_Check()) {
        py::gil_scoped_release release;
        delete p;
      } else {
        delete p;
      }
    }
  };
  py::class_<AsyncVectorEnv, std::unique_ptr<AsyncVectorEnv, AsyncDeleter>>(m, "AsyncVectorEnv")
      .def(py::init([](const std::string& id, const py::dict& kwargs, int num_envs, int threads, int batch_size) {
             const Kwargs kw = ToKwargs(kwargs);
             Registry::Global().Spec(id);
             py::gil_scoped_release release;
             return std::unique_ptr<AsyncVectorEnv, AsyncDeleter>(
                 new AsyncVectorEnv([&] { return Make(id, kw); }, num_envs, threads, batch_size));
           }),
           py::arg("id"), py::arg("kwargs"), py::arg("num_envs"), py::arg("threads"), py::arg("batch_size"))
      .def_property_readonly("num_envs", &AsyncVectorEnv::num_envs)
      .def_property_readonly("batch_size", &AsyncVectorEnv::batch_size)
      .def_property_readonly("single_observation_space",
                             [](const AsyncVectorEnv& v) { return SpaceDict(v.single_observation_space()); })
      .def_property_readonly("single_action_space",
                             [](const AsyncVectorEnv& v) { return SpaceDict(v.single_action_space()); })
      .def("reset", [](AsyncVectorEnv& v, std::optional<uint64_t> seed) {
             py::gil_scoped_release release;
             v.Reset(seed);
           }, py::arg("seed") = py::none())
      .def("send", [](AsyncVectorEnv& v, const py::array& actions,
                      py::array_t<int32_t, py::array::c_style | py::array::forcecast> ids) {
             const int k = static_cast<int>(ids.size());
             CheckBuffer(actions, v.single_action_space(), v.single_action_space().nbytes() * k, "actions");
             const void* a = actions.data();
             const int32_t* i = ids.data();
             py::gil_scoped_release release;
             v.Send(a, i, k);
           }, py::arg("actions"), py::arg("env_ids"))
      .def("recv", [](AsyncVectorEnv& v) {
             py::gil_scoped_release release;
             v.Recv();
           })
      .def("views", [](py::object self) {
        auto& v = self.cast<AsyncVectorEnv&>();
        const py::ssize_t b = v.batch_size();
        const std::vector<py::ssize_t> obs_shape = BatchShape(b, v.single_observation_space());
        const py::dtype obs_dtype = NumpyDType(v.single_observation_space().dtype());
        py::dict d;
        d["env_ids"] = View(self, v.env_ids(), {b}, py::dtype::of<int32_t>());
        d["observations"] = View(self, static_cast<const uint8_t*>(v.observations()), obs_shape, obs_dtype);
        d["final_observations"] = View(self, static_cast<const uint8_t*>(v.final_observations()), obs_shape, obs_dtype);
        d["rewards"] = View(self, v.rewards(), {b}, py::dtype::of<float>());
        d["terminated"] = View(self, v.terminated(), {b}, py::dtype::of<bool>());
        d["truncated"] = View(self, v.truncated(), {b}, py::dtype::of<bool>());
        if (v.mask_size()) d["action_masks"] = View(self, v.action_masks(), {b, v.mask_size()}, py::dtype::of<int8_t>());
        return d;
      });
}
