#include "rlforge/train/export.h"

#include <torch/script.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "rlforge/core/error.h"
#include "rlforge/core/file_io.h"

namespace rlforge {

namespace {

using runtime::Activation;
using runtime::HeadKind;
using runtime::Layer;
using runtime::LayerKind;
using runtime::Model;
using runtime::ObsKind;

torch::Tensor FloatTensor(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::tensor(v, torch::kFloat32).reshape(shape).clone();
}

// The float weights of a layer (dequantized when it is int8).
std::vector<float> LayerWeights(const Layer& l) {
  if (!l.quantized()) return l.weight;
  std::vector<float> w(l.qweight.size());
  const size_t row = l.qweight.size() / static_cast<size_t>(l.out);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(l.qweight[i]) * l.qscale[i / row];
  return w;
}

std::string Num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  std::string t = s.str();
  if (t.find_first_of(".e") == std::string::npos && t.find("inf") == std::string::npos) t += ".0";
  return t;
}

// TorchScript source for the model, with its tensors registered as buffers.
class ScriptWriter {
 public:
  explicit ScriptWriter(torch::jit::Module* m) : m_(m) {}

  std::string Source(const Model& model) {
    std::ostringstream s;
    s << "def forward(self, obs: Tensor, mask: Optional[Tensor] = None"
      << (model.recurrent() ? ", state: Optional[Tensor] = None" : "") << ") -> Dict[str, Tensor]:\n";
    s << "    b = obs.size(0)\n";
    Preprocess(model, s);
    std::string x = "x";
    bool image = model.obs_kind == ObsKind::kImage;
    Chain(model.encoder, "encoder", &image, s);
    if (model.encoder_minmax) {
      s << "    lo = torch.min(x, 1, True)[0]\n    hi = torch.max(x, 1, True)[0]\n";
      s << "    x = (x - lo) / torch.clamp(hi - lo, min=1e-05)\n";
    }
    if (model.recurrent()) Core(model, image, s);
    Chain(model.shared, "shared", &image, s);
    s << "    trunk = x\n";
    Chain(model.policy, "policy", &image, s);
    s << "    pi = x\n";
    s << "    out: Dict[str, Tensor] = {}\n";
    if (model.recurrent()) s << "    out['next_state'] = next_state\n";
    if (model.has_value()) {
      s << "    x = trunk\n";
      Chain(model.value, "value", &image, s);
      if (model.value_support > 0) {
        std::vector<float> support;
        for (int64_t i = -model.value_support; i <= model.value_support; ++i) support.push_back(static_cast<float>(i));
        Buffer("value_support", FloatTensor(support, {static_cast<int64_t>(support.size())}));
        const std::string eps = Num(model.value_eps);
        // In float64, as rlforge decodes it: sqrt(1 + 4 eps ...) - 1 cancels.
        s << "    y = (torch.softmax(x, 1) * self.value_support).sum(1).double()\n";
        s << "    t = (torch.sqrt(1.0 + 4.0 * " << eps << " * (torch.abs(y) + 1.0 + " << eps << ")) - 1.0) / (2.0 * "
          << eps << ")\n";
        s << "    out['value'] = (torch.sign(y) * (t * t - 1.0)).float()\n";
      } else {
        s << "    out['value'] = x.squeeze(-1)\n";
      }
    }
    Head(model, s);
    s << "    return out\n";
    return s.str();
  }

 private:
  void Buffer(const std::string& name, const torch::Tensor& t) { m_->register_buffer(name, t); }

  void Preprocess(const Model& m, std::ostringstream& s) {
    switch (m.obs_kind) {
      case ObsKind::kBox:
        s << "    x = obs.float().reshape([b, -1])\n";
        if (!m.obs_mean.empty()) {
          Buffer("obs_mean", FloatTensor(m.obs_mean, {static_cast<int64_t>(m.obs_mean.size())}));
          Buffer("obs_var", FloatTensor(m.obs_var, {static_cast<int64_t>(m.obs_var.size())}));
          s << "    x = torch.clamp((x - self.obs_mean) / torch.sqrt(self.obs_var + " << Num(m.obs_eps) << "), "
            << Num(-m.obs_clip) << ", " << Num(m.obs_clip) << ")\n";
        }
        return;
      case ObsKind::kDiscrete:
        s << "    idx = obs.reshape([b]).long() - " << m.obs_start << "\n";
        s << "    x = (idx.unsqueeze(1) == torch.arange(" << m.obs_n << ", device=obs.device)).float()\n";
        return;
      case ObsKind::kMultiDiscrete: {
        s << "    idx = obs.reshape([b, -1]).long()\n";
        s << "    x = torch.cat([";
        for (size_t j = 0; j < m.obs_nvec.size(); ++j)
          s << (j ? ", " : "") << "(idx[:, " << j << "].unsqueeze(1) == torch.arange(" << m.obs_nvec[j]
            << ", device=obs.device)).float()";
        s << "], 1)\n";
        return;
      }
      case ObsKind::kImage:
        s << "    x = obs.float() / 255.0\n";
        if (m.channels_last) s << "    x = x.permute([0, 3, 1, 2])\n";
        return;
    }
  }

  // The recurrent core (model.h's equations), one step from `state`
  // ([b, state_size]; zeros when None); the new state in next_state.
  void Core(const Model& m, bool image, std::ostringstream& s) {
    if (image) s << "    x = x.reshape([b, -1])\n";
    const int64_t H = m.rnn_hidden, L = m.rnn_layers();
    auto cols = [&](const std::string& t, int64_t block) {
      return StrCat(t, "[:, ", block * H, ":", (block + 1) * H, "]");
    };
    s << "    if state is None:\n        state = torch.zeros([b, " << m.state_size() << "], device=obs.device)\n";
    s << "    state = state.float()\n";
    std::string hs, cs;
    for (int64_t l = 0; l < L; ++l) {
      for (int k = 0; k < 2; ++k) {
        const Layer& w = m.rnn[static_cast<size_t>(2 * l + k)];
        const std::string p = StrCat("rnn_", l, k ? "_hh" : "_ih");
        Buffer(p + "_w", FloatTensor(w.weight, {w.out, w.in}));
        Buffer(p + "_b", FloatTensor(w.bias, {w.out}));
      }
      const std::string r = StrCat("self.rnn_", l);
      s << "    h = " << cols("state", l) << "\n";
      s << "    gi = torch.linear(x, " << r << "_ih_w, " << r << "_ih_b)\n";
      s << "    gh = torch.linear(h, " << r << "_hh_w, " << r << "_hh_b)\n";
      if (m.rnn_kind == runtime::RnnKind::kLstm) {
        s << "    g = gi + gh\n";
        s << "    c_" << l << " = torch.sigmoid(" << cols("g", 1) << ") * " << cols("state", L + l)
          << " + torch.sigmoid(" << cols("g", 0) << ") * torch.tanh(" << cols("g", 2) << ")\n";
        s << "    x = torch.sigmoid(" << cols("g", 3) << ") * torch.tanh(c_" << l << ")\n";
        cs += StrCat(", c_", l);
      } else {
        s << "    r = torch.sigmoid(" << cols("gi", 0) << " + " << cols("gh", 0) << ")\n";
        s << "    z = torch.sigmoid(" << cols("gi", 1) << " + " << cols("gh", 1) << ")\n";
        s << "    n = torch.tanh(" << cols("gi", 2) << " + r * " << cols("gh", 2) << ")\n";
        s << "    x = (1.0 - z) * n + z * h\n";
      }
      s << "    h_" << l << " = x\n";
      hs += StrCat(l ? ", " : "", "h_", l);
    }
    s << "    next_state = torch.cat([" << hs << cs << "], 1)\n";
  }

  void Chain(const std::vector<Layer>& chain, const std::string& name, bool* four_d, std::ostringstream& s) {
    for (size_t i = 0; i < chain.size(); ++i) {
      const Layer& l = chain[i];
      const std::string p = StrCat(name, "_", i);
      if (l.kind == LayerKind::kConv2d) {
        Buffer(p + "_w", FloatTensor(LayerWeights(l), {l.out, l.in, l.kernel, l.kernel}));
        Buffer(p + "_b", FloatTensor(l.bias, {l.out}));
        s << "    x = torch.conv2d(x, self." << p << "_w, self." << p << "_b, [" << l.stride << ", " << l.stride
          << "])\n";
        *four_d = true;
      } else {
        if (*four_d) s << "    x = x.reshape([b, -1])\n", *four_d = false;
        Buffer(p + "_w", FloatTensor(LayerWeights(l), {l.out, l.in}));
        Buffer(p + "_b", FloatTensor(l.bias, {l.out}));
        s << "    x = torch.linear(x, self." << p << "_w, self." << p << "_b)\n";
      }
      if (l.activation == Activation::kRelu) s << "    x = torch.relu(x)\n";
      if (l.activation == Activation::kTanh) s << "    x = torch.tanh(x)\n";
    }
  }

  void Head(const Model& m, std::ostringstream& s) {
    const std::string low = "-3.4028234663852886e+38";
    switch (m.head) {
      case HeadKind::kCategorical:
        s << "    logits = pi\n";
        s << "    if mask is not None:\n        logits = logits.masked_fill(mask == 0, " << low << ")\n";
        s << "    out['logits'] = logits\n";
        s << "    out['action'] = torch.argmax(logits, 1) + " << m.action_start << "\n";
        return;
      case HeadKind::kMultiCategorical: {
        s << "    logits = pi\n";
        s << "    if mask is not None:\n        logits = logits.masked_fill(mask == 0, " << low << ")\n";
        s << "    out['logits'] = logits\n";
        s << "    out['action'] = torch.stack([";
        int64_t o = 0;
        for (size_t d = 0; d < m.nvec.size(); o += m.nvec[d], ++d)
          s << (d ? ", " : "") << "torch.argmax(logits[:, " << o << ":" << o + m.nvec[d] << "], 1)";
        s << "], 1)\n";
        return;
      }
      case HeadKind::kGaussian: {
        const auto d = static_cast<int64_t>(m.log_std.size());
        Buffer("log_std", FloatTensor(m.log_std, {d}));
        Buffer("low", FloatTensor(m.low, {d}));
        Buffer("high", FloatTensor(m.high, {d}));
        s << "    out['mean'] = pi\n";
        s << "    out['log_std'] = self.log_std.expand_as(pi)\n";
        s << "    out['action'] = torch.max(torch.min(pi, self.high), self.low)\n";
        return;
      }
      case HeadKind::kQValues:
        if (m.dueling) s << "    q = pi[:, 0:1] + pi[:, 1:] - pi[:, 1:].mean(1, True)\n";
        else if (m.quantiles > 1) s << "    q = pi.reshape([b, " << m.num_actions << ", " << m.quantiles << "]).mean(2)\n";
        else s << "    q = pi\n";
        s << "    if mask is not None:\n        q = q.masked_fill(mask == 0, " << low << ")\n";
        s << "    out['q_values'] = q\n";
        s << "    out['action'] = torch.argmax(q, 1) + " << m.action_start << "\n";
        return;
    }
  }

  torch::jit::Module* m_;
};

}  // namespace

void WriteTorchScript(const Model& model, const std::string& path) {
  model.Validate();
  torch::jit::Module m("RlforgePolicy");
  ScriptWriter w(&m);
  const std::string source = w.Source(model);
  try {
    m.define(source);
  } catch (const std::exception& e) {  // torch::jit::ErrorReport and c10::Error
    throw Error(StrCat("the TorchScript source did not compile (a bug in rlforge's writer): ", OneLine(e.what())));
  }
  // What the model is, for whoever loads it: the rlf description as JSON.
  m.register_attribute("rlforge_model", c10::StringType::get(), model.Describe());
  std::ostringstream bytes;
  try {
    m.save(bytes);
  } catch (const c10::Error& e) {
    throw Error(StrCat("cannot write ", path, ": ", OneLine(e.what())));
  }
  WriteFileAtomically(path, bytes.str());
}

std::string ExportFormatFor(const std::string& format, const std::string& path, const std::string& format_name) {
  RLF_CHECK_ARG(format.empty() || format == "rlf" || format == "torchscript" || format == "onnx", format_name,
                " must be rlf, torchscript or onnx, got '", format, "'");
  const std::string ext = std::filesystem::path(path).extension().string();
  const std::string by_name = ext == ".rlf"                   ? "rlf"
                              : ext == ".onnx"                ? "onnx"
                              : ext == ".pt" || ext == ".ts" ? "torchscript"
                                                              : "";
  if (format.empty()) return by_name.empty() ? "rlf" : by_name;
  RLF_CHECK_ARG(by_name.empty() || by_name == format, path, "'s extension says ", by_name, ", but ", format_name,
                " is ", format, " (name it ",
                format == "rlf" ? ".rlf" : format == "onnx" ? ".onnx" : ".pt", ", or give ", format_name, " ", by_name,
                ")");
  return format;
}

void WriteExport(const Model& model, const std::string& format, const std::string& path) {
  if (format == "rlf") {
    std::string bytes;
    try {
      bytes = runtime::Serialize(model);
    } catch (const runtime::Error& e) {
      throw Error(e.what());
    }
    WriteFileAtomically(path, bytes);
  } else if (format == "torchscript") {
    WriteTorchScript(model, path);
  } else if (format == "onnx") {
    WriteOnnx(model, path);
  } else {
    throw InvalidArgument(StrCat("export format must be rlf, torchscript or onnx, got '", format, "'"));
  }
}

RecordedObservations RecordObservations(const TrainConfig& config, Policy& policy, int64_t n, uint64_t seed) {
  RLF_CHECK_ARG(n >= 1, "the number of observations to record must be >= 1");
  auto env = config.Context().MakeEnv();
  const Space& os = env->observation_space();
  const Space& as = env->action_space();
  RecordedObservations r;
  r.n = n;
  r.obs_size = os.size();
  r.obs_shape = os.shape();
  r.mask_size = env->has_action_mask() ? as.mask_size() : 0;
  r.raw.resize(static_cast<size_t>(n) * os.nbytes());
  r.obs.resize(static_cast<size_t>(n * r.obs_size));
  r.masks.resize(static_cast<size_t>(n * r.mask_size));
  r.starts.assign(static_cast<size_t>(n), 0);
  std::vector<uint8_t> obs(os.nbytes()), action(as.nbytes());
  std::vector<uint8_t> other_obs(os.nbytes()), other_action(as.nbytes()),
      other_mask(static_cast<size_t>(std::max<int64_t>(r.mask_size, 1)));
  RandomPolicy opponent(as, seed + 0x0BB0, /*use_masks=*/true);
  Info info;
  env->Reset(seed, obs.data(), &info);
  // The policy asks this env for conditional masks while recording, and
  // forgets it afterwards (the env goes when this function returns).
  struct Forget {
    Policy& p;
    ~Forget() { p.set_conditional_mask(nullptr); }
  } forget{policy};
  if (env->has_conditional_action_mask())
    policy.set_conditional_mask([&env](int, const int64_t* prefix, int dim, uint8_t* mask) {
      env->ConditionalActionMask(prefix, dim, mask);
    });
  for (int64_t t = 0, episode = 0, len = 0; t < n; ++t) {
    if (len == 0) {
      r.starts[static_cast<size_t>(t)] = 1;
      policy.StartEpisodes(&r.starts[static_cast<size_t>(t)], 1);
    }
    std::copy(obs.begin(), obs.end(), r.raw.begin() + t * static_cast<int64_t>(os.nbytes()));
    for (int64_t i = 0; i < r.obs_size; ++i)
      r.obs[t * r.obs_size + i] = static_cast<float>(ReadElement(obs.data(), os.dtype(), i));
    uint8_t* mask = r.mask_size ? r.masks.data() + t * r.mask_size : nullptr;
    if (mask) env->ActionMask(mask);
    policy.Act(obs.data(), mask, 1, action.data());
    // Team games (Arena-v0 with opponent=external, a self-play run's env):
    // the other agents play random legal actions.
    for (int agent = 1; agent < env->num_agents(); ++agent) {
      env->AgentObservation(agent, other_obs.data());
      if (r.mask_size) env->AgentActionMask(agent, other_mask.data());
      opponent.Act(other_obs.data(), r.mask_size ? other_mask.data() : nullptr, 1, other_action.data());
      env->SetAgentAction(agent, other_action.data());
    }
    const StepResult s = env->Step(action.data(), obs.data());
    // Episodes end by the env's own limits, or after 10,000 steps.
    if (s.done() || ++len >= 10000) {
      env->Reset(seed + static_cast<uint64_t>(++episode), obs.data(), &info);
      len = 0;
    }
  }
  return r;
}

}  // namespace rlforge

namespace rlforge {

namespace {

// Greedy actions of a runtime policy on the recorded rows, as doubles: one
// batch, or (recurrent policies) row by row from zero states, reset where
// episodes start.
std::vector<double> RuntimeActions(runtime::Policy& p, const RecordedObservations& r) {
  const int64_t k = p.action_size();
  std::vector<double> out(static_cast<size_t>(r.n * k));
  const bool stepwise = p.recurrent();
  const int64_t rows = stepwise ? 1 : r.n;
  p.Reserve(rows);
  p.ResetState();
  std::vector<int64_t> ai(static_cast<size_t>(rows * k));
  std::vector<float> af(ai.size());
  for (int64_t t = 0; t < r.n; t += rows) {
    if (stepwise && r.starts[static_cast<size_t>(t)]) p.ResetState(0);
    const float* obs = r.obs.data() + t * r.obs_size;
    const uint8_t* masks = r.mask_size ? r.masks.data() + t * r.mask_size : nullptr;
    if (p.discrete()) {
      p.Act(obs, rows, masks, ai.data(), true);
      std::copy(ai.begin(), ai.end(), out.begin() + t * k);
    } else {
      p.Act(obs, rows, af.data(), true);
      std::copy(af.begin(), af.end(), out.begin() + t * k);
    }
  }
  return out;
}

Agreement Compare(const std::vector<double>& a, const std::vector<double>& b, int64_t n, bool exact) {
  Agreement g;
  g.n = n;
  const size_t k = a.size() / static_cast<size_t>(n);
  for (int64_t i = 0; i < n; ++i) {
    bool same = true;
    for (size_t j = 0; j < k; ++j) {
      const double d = std::abs(a[i * k + j] - b[i * k + j]);
      g.max_abs_diff = std::max(g.max_abs_diff, d);
      same = same && (exact ? d == 0 : d <= 1e-5);
    }
    g.same += same;
  }
  return g;
}

}  // namespace

Agreement CompareActions(Policy& reference, runtime::Policy& exported, const RecordedObservations& r,
                         const Space& action_space) {
  const int64_t k = exported.action_size();
  std::vector<uint8_t> raw(static_cast<size_t>(r.n) * action_space.nbytes());
  if (exported.recurrent()) {
    const size_t ob = r.raw.size() / static_cast<size_t>(r.n);
    for (int64_t t = 0; t < r.n; ++t) {
      reference.StartEpisodes(&r.starts[static_cast<size_t>(t)], 1);
      reference.Act(r.raw.data() + t * ob, r.mask_size ? r.masks.data() + t * r.mask_size : nullptr, 1,
                    raw.data() + t * action_space.nbytes());
    }
  } else {
    reference.Act(r.raw.data(), r.mask_size ? r.masks.data() : nullptr, static_cast<int>(r.n), raw.data());
  }
  std::vector<double> ref(static_cast<size_t>(r.n * k));
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = ReadElement(raw.data(), action_space.dtype(), static_cast<int64_t>(i));
  return Compare(ref, RuntimeActions(exported, r), r.n, exported.discrete());
}

Agreement CompareActions(runtime::Policy& a, runtime::Policy& b, const RecordedObservations& r) {
  return Compare(RuntimeActions(a, r), RuntimeActions(b, r), r.n, a.discrete());
}

Agreement CompareWithTorchScript(const std::string& path, runtime::Policy& p, const RecordedObservations& r) {
  return Compare(TorchScriptActions(path, r, p.state_size()), RuntimeActions(p, r), r.n, p.discrete());
}

std::vector<double> TorchScriptActions(const std::string& path, const RecordedObservations& r, int64_t state_size) {
  torch::jit::Module m;
  try {
    m = torch::jit::load(path);
  } catch (const c10::Error& e) {
    throw Error(StrCat(path, ": not a TorchScript file (", OneLine(e.what()), ")"));
  }
  torch::NoGradGuard g;
  RLF_CHECK(m.hasattr("rlforge_model"), path, ": a TorchScript module, but not an rlforge export");
  const int64_t rows = state_size > 0 ? 1 : r.n;
  std::vector<int64_t> shape{rows};
  shape.insert(shape.end(), r.obs_shape.begin(), r.obs_shape.end());
  std::vector<double> out;
  torch::Tensor state;
  for (int64_t t = 0; t < r.n; t += rows) {
    auto obs = torch::from_blob(const_cast<float*>(r.obs.data() + t * r.obs_size), shape, torch::kFloat32);
    std::vector<torch::jit::IValue> in;
    in.reserve(3);
    in.emplace_back(obs);
    if (r.mask_size)
      in.emplace_back(
          torch::from_blob(const_cast<uint8_t*>(r.masks.data() + t * r.mask_size), {rows, r.mask_size}, torch::kUInt8));
    else if (state_size > 0)
      in.emplace_back(c10::IValue());  // mask=None
    if (state_size > 0) {
      if (r.starts[static_cast<size_t>(t)] || !state.defined()) state = torch::zeros({1, state_size});
      in.emplace_back(state);
    }
    auto result = m.forward(in).toGenericDict();
    if (state_size > 0) state = result.at("next_state").toTensor();
    auto a = result.at("action").toTensor().to(torch::kFloat64).contiguous().reshape({-1});
    out.insert(out.end(), a.data_ptr<double>(), a.data_ptr<double>() + a.numel());
  }
  return out;
}

}  // namespace rlforge
