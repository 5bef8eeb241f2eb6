// The ONNX writer (opset 13) over Debian's ONNX protobuf library; without it
// (RLFORGE_HAVE_ONNX undefined) WriteOnnx says what to install.
#include "rlforge/train/export.h"

#include "rlforge/core/error.h"
#include "rlforge/core/file_io.h"

#ifdef RLFORGE_HAVE_ONNX
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstdio>
#endif

namespace rlforge {

#ifndef RLFORGE_HAVE_ONNX

void WriteOnnx(const runtime::Model&, const std::string&) {
  throw InvalidArgument("this build of rlforge has no ONNX support (install libonnx-dev and rebuild)");
}

#else

namespace {

using runtime::Activation;
using runtime::HeadKind;
using runtime::Layer;
using runtime::LayerKind;
using runtime::Model;
using runtime::ObsKind;

class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto* g) : g_(g) {}

  // A float32 initializer of `shape`.
  std::string Const(const std::string& name, const std::vector<float>& v, const std::vector<int64_t>& shape) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return name;
  }
  std::string ConstI64(const std::string& name, const std::vector<int64_t>& v, bool scalar = false) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    if (!scalar) t->add_dims(static_cast<int64_t>(v.size()));
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
    return name;
  }
  std::string Scalar(const std::string& name, float v) { return Const(name, {v}, {}); }
  std::string ScalarDouble(const std::string& name, double v) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::DOUBLE);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(&v), sizeof(v)));
    return name;
  }

  // One node; returns its (first) output's name.
  std::string Node(const std::string& op, const std::vector<std::string>& in, const std::string& out,
                   const std::function<void(onnx::NodeProto*)>& attrs = nullptr) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(out + "_" + op);
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    if (attrs) attrs(n);
    return out;
  }
  static void IntAttr(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void IntsAttr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void FloatAttr(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }

  std::string Fresh(const std::string& base) { return StrCat(base, "_", counter_++); }

  // Float [B, in] or [B, C, H, W] through a chain.
  std::string Chain(const std::vector<Layer>& chain, const std::string& name, std::string x, bool* four_d) {
    for (size_t i = 0; i < chain.size(); ++i) {
      const Layer& l = chain[i];
      const std::string p = StrCat(name, "_", i);
      std::vector<float> w = l.weight;
      if (l.quantized()) {
        w.resize(l.qweight.size());
        const size_t row = l.qweight.size() / static_cast<size_t>(l.out);
        for (size_t k = 0; k < w.size(); ++k) w[k] = static_cast<float>(l.qweight[k]) * l.qscale[k / row];
      }
      if (l.kind == LayerKind::kConv2d) {
        Const(p + "_w", w, {l.out, l.in, l.kernel, l.kernel});
        Const(p + "_b", l.bias, {l.out});
        x = Node("Conv", {x, p + "_w", p + "_b"}, p, [&](onnx::NodeProto* n) {
          IntsAttr(n, "kernel_shape", {l.kernel, l.kernel});
          IntsAttr(n, "strides", {l.stride, l.stride});
        });
        *four_d = true;
      } else {
        if (*four_d) {
          x = Node("Flatten", {x}, p + "_flat", [](onnx::NodeProto* n) { IntAttr(n, "axis", 1); });
          *four_d = false;
        }
        Const(p + "_w", w, {l.out, l.in});
        Const(p + "_b", l.bias, {l.out});
        x = Node("Gemm", {x, p + "_w", p + "_b"}, p, [](onnx::NodeProto* n) { IntAttr(n, "transB", 1); });
      }
      if (l.activation == Activation::kRelu) x = Node("Relu", {x}, p + "_relu");
      if (l.activation == Activation::kTanh) x = Node("Tanh", {x}, p + "_tanh");
    }
    return x;
  }

  // Columns [block * width, (block + 1) * width) of a [B, *] tensor (Core
  // adds the "core_axes" initializer the slices share).
  std::string Columns(const std::string& x, int64_t block, int64_t width, const std::string& out) {
    ConstI64(out + "_lo", {block * width});
    ConstI64(out + "_hi", {(block + 1) * width});
    return Node("Slice", {x, out + "_lo", out + "_hi", "core_axes"}, out);
  }

  // The recurrent core (model.h's equations) on x [B, in] from the graph
  // input "state"; the new state as the output "next_state". Returns the
  // last layer's h.
  std::string Core(const Model& m, std::string x) {
    const int64_t H = m.rnn_hidden, L = m.rnn_layers();
    const bool lstm = m.rnn_kind == runtime::RnnKind::kLstm;
    std::vector<std::string> hs, cs;
    ConstI64("core_axes", {1});
    if (!lstm) Scalar("core_one", 1.0f);
    for (int64_t l = 0; l < L; ++l) {
      const std::string p = StrCat("core", l);
      std::string gates[2];
      const std::string h = Columns("state", l, H, p + "_h");
      for (int k = 0; k < 2; ++k) {
        const Layer& layer = m.rnn[static_cast<size_t>(2 * l + k)];
        const std::string q = StrCat(p, k ? "_hh" : "_ih");
        Const(q + "_w", layer.weight, {layer.out, layer.in});
        Const(q + "_b", layer.bias, {layer.out});
        gates[k] = Node("Gemm", {k ? h : x, q + "_w", q + "_b"}, q, [](onnx::NodeProto* n) { IntAttr(n, "transB", 1); });
      }
      if (lstm) {
        const std::string g = Node("Add", {gates[0], gates[1]}, p + "_gates");
        const std::string i = Node("Sigmoid", {Columns(g, 0, H, p + "_gi")}, p + "_i");
        const std::string f = Node("Sigmoid", {Columns(g, 1, H, p + "_gf")}, p + "_f");
        const std::string cand = Node("Tanh", {Columns(g, 2, H, p + "_gg")}, p + "_g");
        const std::string o = Node("Sigmoid", {Columns(g, 3, H, p + "_go")}, p + "_o");
        const std::string c0 = Columns("state", L + l, H, p + "_c0");
        const std::string c = Node("Add", {Node("Mul", {f, c0}, p + "_fc"), Node("Mul", {i, cand}, p + "_ig")}, p + "_c");
        x = Node("Mul", {o, Node("Tanh", {c}, p + "_tanh_c")}, p + "_h_out");
        cs.push_back(c);
      } else {
        auto sum = [&](int64_t block, const std::string& name) {
          return Node("Add", {Columns(gates[0], block, H, name + "_i"), Columns(gates[1], block, H, name + "_h")},
                      name + "_sum");
        };
        const std::string r = Node("Sigmoid", {sum(0, p + "_r")}, p + "_r");
        const std::string z = Node("Sigmoid", {sum(1, p + "_z")}, p + "_z");
        const std::string rn = Node("Mul", {r, Columns(gates[1], 2, H, p + "_n_h")}, p + "_rn");
        const std::string n = Node("Tanh", {Node("Add", {Columns(gates[0], 2, H, p + "_n_i"), rn}, p + "_n_sum")}, p + "_n");
        const std::string keep = Node("Sub", {"core_one", z}, p + "_1mz");
        x = Node("Add", {Node("Mul", {keep, n}, p + "_new"), Node("Mul", {z, h}, p + "_old")}, p + "_h_out");
      }
      hs.push_back(x);
    }
    hs.insert(hs.end(), cs.begin(), cs.end());
    Node("Concat", hs, "next_state", [](onnx::NodeProto* n) { IntAttr(n, "axis", 1); });
    return x;
  }

  // One-hot of int64 indices [B] over n values: float [B, n].
  std::string OneHot(const std::string& idx, int64_t n, const std::string& name) {
    std::vector<int64_t> range(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) range[static_cast<size_t>(i)] = i;
    ConstI64(name + "_range", range);
    ConstI64(name + "_axes", {1});
    const std::string col = Node("Unsqueeze", {idx, name + "_axes"}, name + "_col");
    const std::string eq = Node("Equal", {col, name + "_range"}, name + "_eq");
    return Node("Cast", {eq}, name, [](onnx::NodeProto* n) { IntAttr(n, "to", onnx::TensorProto::FLOAT); });
  }

 private:
  onnx::GraphProto* g_;
  int counter_ = 0;
};

// A graph input or output: elem type, a symbolic batch dimension, then dims.
void ValueInfo(onnx::ValueInfoProto* v, const std::string& name, int elem, const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem);
  auto* s = t->mutable_shape();
  s->add_dim()->set_dim_param("batch");
  for (int64_t d : dims) s->add_dim()->set_dim_value(d);
}
void Input(onnx::GraphProto* g, const std::string& name, int elem, const std::vector<int64_t>& dims) {
  ValueInfo(g->add_input(), name, elem, dims);
}
void Output(onnx::GraphProto* g, const std::string& name, int elem, const std::vector<int64_t>& dims) {
  ValueInfo(g->add_output(), name, elem, dims);
}

}  // namespace

void WriteOnnx(const Model& m, const std::string& path) {
  m.Validate();
  onnx::ModelProto model;
  model.set_ir_version(7);
  model.set_producer_name("rlforge");
  model.set_doc_string(m.Describe());
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  auto* g = model.mutable_graph();
  g->set_name("rlforge_policy");
  GraphWriter w(g);
  const int64_t A = m.mask_size();
  const bool has_mask = m.action_mask && A > 0 && m.head != HeadKind::kGaussian;

  // Inputs.
  std::vector<int64_t> obs_dims = m.obs_shape;
  if (m.obs_kind == ObsKind::kDiscrete) obs_dims = {};
  Input(g, "obs", onnx::TensorProto::FLOAT, obs_dims);
  if (has_mask) Input(g, "mask", onnx::TensorProto::BOOL, {A});
  if (m.recurrent()) Input(g, "state", onnx::TensorProto::FLOAT, {m.state_size()});

  // Preprocessing.
  std::string x;
  switch (m.obs_kind) {
    case ObsKind::kBox:
      x = w.Node("Flatten", {"obs"}, "obs_flat", [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "axis", 1); });
      if (!m.obs_mean.empty()) {
        const auto d = static_cast<int64_t>(m.obs_mean.size());
        std::vector<float> sd(m.obs_var.size());
        w.Const("obs_mean", m.obs_mean, {d});
        w.Const("obs_var", m.obs_var, {d});
        w.Scalar("obs_eps", static_cast<float>(m.obs_eps));
        w.Scalar("obs_lo", static_cast<float>(-m.obs_clip));
        w.Scalar("obs_hi", static_cast<float>(m.obs_clip));
        const std::string centered = w.Node("Sub", {x, "obs_mean"}, "obs_centered");
        const std::string var = w.Node("Add", {"obs_var", "obs_eps"}, "obs_var_eps");
        const std::string sdev = w.Node("Sqrt", {var}, "obs_sd");
        const std::string z = w.Node("Div", {centered, sdev}, "obs_z");
        x = w.Node("Clip", {z, "obs_lo", "obs_hi"}, "obs_norm");
      }
      break;
    case ObsKind::kDiscrete: {
      w.Scalar("obs_start", static_cast<float>(m.obs_start));
      const std::string shifted = w.Node("Sub", {"obs", "obs_start"}, "obs_shifted");
      const std::string idx = w.Node("Cast", {shifted}, "obs_idx",
                                     [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "to", onnx::TensorProto::INT64); });
      x = w.OneHot(idx, m.obs_n, "obs_onehot");
      break;
    }
    case ObsKind::kMultiDiscrete: {
      const std::string idx = w.Node("Cast", {"obs"}, "obs_idx",
                                     [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "to", onnx::TensorProto::INT64); });
      std::vector<std::string> parts;
      for (size_t j = 0; j < m.obs_nvec.size(); ++j) {
        const std::string name = StrCat("obs_dim", j);
        w.ConstI64(name + "_at", {static_cast<int64_t>(j)}, true);
        const std::string col = w.Node("Gather", {idx, name + "_at"}, name,
                                       [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "axis", 1); });
        parts.push_back(w.OneHot(col, m.obs_nvec[j], name + "_onehot"));
      }
      x = w.Node("Concat", parts, "obs_onehot", [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "axis", 1); });
      break;
    }
    case ObsKind::kImage: {
      w.Scalar("pixel_scale", 255.0f);
      x = w.Node("Div", {"obs", "pixel_scale"}, "obs_scaled");
      if (m.channels_last)
        x = w.Node("Transpose", {x}, "obs_chw", [](onnx::NodeProto* n) { GraphWriter::IntsAttr(n, "perm", {0, 3, 1, 2}); });
      break;
    }
  }

  bool four_d = m.obs_kind == ObsKind::kImage;
  x = w.Chain(m.encoder, "encoder", x, &four_d);
  if (m.encoder_minmax) {
    auto reduce = [&](const char* op, const std::string& out) {
      return w.Node(op, {x}, out, [](onnx::NodeProto* n) {
        GraphWriter::IntsAttr(n, "axes", {1});
        GraphWriter::IntAttr(n, "keepdims", 1);
      });
    };
    const std::string lo = reduce("ReduceMin", "minmax_lo"), hi = reduce("ReduceMax", "minmax_hi");
    w.Scalar("minmax_floor", 1e-5f);
    const std::string span = w.Node("Max", {w.Node("Sub", {hi, lo}, "minmax_span_raw"), "minmax_floor"}, "minmax_span");
    x = w.Node("Div", {w.Node("Sub", {x, lo}, "minmax_centered"), span}, "minmax");
  }
  if (m.recurrent()) {
    if (four_d) x = w.Node("Flatten", {x}, "core_flat", [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "axis", 1); });
    four_d = false;
    x = w.Core(m, x);
    Output(g, "next_state", onnx::TensorProto::FLOAT, {m.state_size()});
  }
  const std::string trunk = w.Chain(m.shared, "shared", x, &four_d);
  bool pi_four_d = four_d;
  const std::string pi = w.Chain(m.policy, "policy", trunk, &pi_four_d);
  if (m.has_value()) {
    bool v_four_d = four_d;
    const std::string v = w.Chain(m.value, "value", trunk, &v_four_d);
    w.ConstI64("value_axes", {1});
    if (m.value_support > 0) {
      // h^-1(softmax(v) . (-S..S)), as model.h defines it.
      const int64_t S = m.value_support;
      std::vector<float> support;
      for (int64_t i = -S; i <= S; ++i) support.push_back(static_cast<float>(i));
      w.Const("value_support", support, {2 * S + 1, 1});
      const double eps = m.value_eps;
      const std::string p = w.Node("Softmax", {v}, "value_probs", [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "axis", 1); });
      const std::string yf = w.Node("Squeeze", {w.Node("MatMul", {p, "value_support"}, "value_expect"), "value_axes"}, "value_yf");
      // h^-1 in float64, as rlforge decodes it (sqrt(1 + 4 eps ...) - 1 cancels in float32).
      const std::string y = w.Node("Cast", {yf}, "value_y", [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "to", onnx::TensorProto::DOUBLE); });
      w.ScalarDouble("value_one", 1.0), w.ScalarDouble("value_4eps", 4.0 * eps);
      w.ScalarDouble("value_2eps", 2.0 * eps), w.ScalarDouble("value_1_eps", 1.0 + eps);
      const std::string a = w.Node("Add", {w.Node("Abs", {y}, "value_abs"), "value_1_eps"}, "value_a");
      const std::string r = w.Node("Sqrt", {w.Node("Add", {w.Node("Mul", {a, "value_4eps"}, "value_b"), "value_one"}, "value_c")}, "value_d");
      const std::string t = w.Node("Div", {w.Node("Sub", {r, "value_one"}, "value_e"), "value_2eps"}, "value_t");
      const std::string t2 = w.Node("Sub", {w.Node("Mul", {t, t}, "value_tt"), "value_one"}, "value_f");
      const std::string vd = w.Node("Mul", {w.Node("Sign", {y}, "value_sign"), t2}, "value_double");
      w.Node("Cast", {vd}, "value", [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "to", onnx::TensorProto::FLOAT); });
    } else {
      w.Node("Squeeze", {v, "value_axes"}, "value");
    }
    Output(g, "value", onnx::TensorProto::FLOAT, {});
  }

  // Head.
  auto masked = [&](const std::string& scores, const std::string& out) {
    if (!has_mask) return w.Node("Identity", {scores}, out);
    w.Scalar("lowest", std::numeric_limits<float>::lowest());
    return w.Node("Where", {"mask", scores, "lowest"}, out);
  };
  auto argmax = [&](const std::string& in, const std::string& out) {
    return w.Node("ArgMax", {in}, out, [](onnx::NodeProto* n) {
      GraphWriter::IntAttr(n, "axis", 1);
      GraphWriter::IntAttr(n, "keepdims", 0);
    });
  };
  auto add_start = [&](const std::string& a, int64_t start) {
    if (start == 0) return w.Node("Identity", {a}, "action");
    w.ConstI64("action_start", {start}, true);
    return w.Node("Add", {a, "action_start"}, "action");
  };
  switch (m.head) {
    case HeadKind::kCategorical:
      argmax(masked(pi, "logits"), "action_index");
      add_start("action_index", m.action_start);
      Output(g, "action", onnx::TensorProto::INT64, {});
      Output(g, "logits", onnx::TensorProto::FLOAT, {m.num_actions});
      break;
    case HeadKind::kMultiCategorical: {
      const std::string logits = masked(pi, "logits");
      std::vector<std::string> dims;
      int64_t o = 0;
      w.ConstI64("dim_axes", {1});
      for (size_t d = 0; d < m.nvec.size(); o += m.nvec[d], ++d) {
        const std::string name = StrCat("action_dim", d);
        w.ConstI64(name + "_lo", {o});
        w.ConstI64(name + "_hi", {o + m.nvec[d]});
        const std::string part = w.Node("Slice", {logits, name + "_lo", name + "_hi", "dim_axes"}, name + "_logits");
        const std::string a = argmax(part, name + "_argmax");
        dims.push_back(w.Node("Unsqueeze", {a, "dim_axes"}, name));
      }
      w.Node("Concat", dims, "action", [](onnx::NodeProto* n) { GraphWriter::IntAttr(n, "axis", 1); });
      Output(g, "action", onnx::TensorProto::INT64, {static_cast<int64_t>(m.nvec.size())});
      Output(g, "logits", onnx::TensorProto::FLOAT, {A});
      break;
    }
    case HeadKind::kGaussian: {
      const auto d = static_cast<int64_t>(m.log_std.size());
      w.Node("Identity", {pi}, "mean");
      w.Const("log_std_param", m.log_std, {d});
      w.Const("action_low", m.low, {d});
      w.Const("action_high", m.high, {d});
      // log_std broadcast to [B, d]: log_std + 0 * mean.
      w.Scalar("zero", 0.0f);
      const std::string zeros = w.Node("Mul", {pi, "zero"}, "mean_zeros");
      w.Node("Add", {zeros, "log_std_param"}, "log_std");
      const std::string lo = w.Node("Max", {pi, "action_low"}, "action_above_low");
      w.Node("Min", {lo, "action_high"}, "action");
      Output(g, "action", onnx::TensorProto::FLOAT, {d});
      Output(g, "mean", onnx::TensorProto::FLOAT, {d});
      Output(g, "log_std", onnx::TensorProto::FLOAT, {d});
      break;
    }
    case HeadKind::kQValues: {
      std::string q = pi;
      if (m.dueling) {
        w.ConstI64("adv_lo", {1});
        w.ConstI64("adv_hi", {m.num_actions + 1});
        w.ConstI64("v_lo", {0});
        w.ConstI64("v_hi", {1});
        w.ConstI64("q_axes", {1});
        const std::string v = w.Node("Slice", {pi, "v_lo", "v_hi", "q_axes"}, "dueling_v");
        const std::string adv = w.Node("Slice", {pi, "adv_lo", "adv_hi", "q_axes"}, "dueling_adv");
        const std::string mean = w.Node("ReduceMean", {adv}, "dueling_adv_mean", [](onnx::NodeProto* n) {
          GraphWriter::IntsAttr(n, "axes", {1});
          GraphWriter::IntAttr(n, "keepdims", 1);
        });
        const std::string sum = w.Node("Add", {v, adv}, "dueling_sum");
        q = w.Node("Sub", {sum, mean}, "q_raw");
      } else if (m.quantiles > 1) {
        w.ConstI64("quantile_shape", {-1, m.num_actions, m.quantiles});
        const std::string r = w.Node("Reshape", {pi, "quantile_shape"}, "quantiles");
        q = w.Node("ReduceMean", {r}, "q_raw", [](onnx::NodeProto* n) {
          GraphWriter::IntsAttr(n, "axes", {2});
          GraphWriter::IntAttr(n, "keepdims", 0);
        });
      }
      argmax(masked(q, "q_values"), "action_index");
      add_start("action_index", m.action_start);
      Output(g, "action", onnx::TensorProto::INT64, {});
      Output(g, "q_values", onnx::TensorProto::FLOAT, {m.num_actions});
      break;
    }
  }
  // Metadata: what the model is (the rlf description).
  auto* meta = model.add_metadata_props();
  meta->set_key("rlforge_model");
  meta->set_value(m.Describe());
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw Error(StrCat("the ONNX graph did not pass ONNX's checker (a bug in rlforge's writer): ", e.what()));
  }
  std::string bytes;
  RLF_CHECK(model.SerializeToString(&bytes), "cannot serialize the ONNX model for ", path);
  WriteFileAtomically(path, bytes);
}

#endif  // RLFORGE_HAVE_ONNX

}  // namespace rlforge
