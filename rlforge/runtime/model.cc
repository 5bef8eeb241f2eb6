#include "rlforge/runtime/model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <sstream>

#include "rlforge/runtime/text.h"

namespace rlforge::runtime {

namespace {

using Json = nlohmann::json;

constexpr char kMagic[8] = {'R', 'L', 'F', 'M', 'O', 'D', 'E', 'L'};
// Version 2 adds the recurrent core; feed-forward models are still written
// as version 1, so runtimes from before it read them (and refuse a recurrent
// one by its version instead of acting without its core).
constexpr uint32_t kVersion = 2;
// Larger than any policy this runtime is meant for; a header or blob size
// beyond it is damage, not a model.
constexpr uint64_t kMaxBlob = uint64_t{4} << 30;
constexpr uint32_t kMaxHeader = 64u << 20;

// CRC-32 (IEEE, zlib's); core/ has one too, but the runtime links nothing of
// rlforge's.
uint32_t Crc32(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// Bounds that keep every size computation far from overflow: dimensions,
// vocabularies and action counts up to 2^24, up to 2^31 weights and 2^28
// values per layer output or im2col buffer.
constexpr int64_t kMaxDim = int64_t{1} << 24;
constexpr double kMaxWeights = 2147483648.0;
constexpr double kMaxValues = 268435456.0;

#define RLF_RT_CHECK(cond, ...) \
  do {                          \
    if (!(cond)) throw Error(Cat(__VA_ARGS__)); \
  } while (0)

const char* Name(Activation a) { return a == Activation::kRelu ? "relu" : a == Activation::kTanh ? "tanh" : "none"; }
const char* Name(ObsKind k) {
  switch (k) {
    case ObsKind::kBox: return "box";
    case ObsKind::kDiscrete: return "discrete";
    case ObsKind::kMultiDiscrete: return "multi_discrete";
    case ObsKind::kImage: return "image";
  }
  return "?";
}
const char* Name(HeadKind k) {
  switch (k) {
    case HeadKind::kCategorical: return "categorical";
    case HeadKind::kMultiCategorical: return "multi_categorical";
    case HeadKind::kGaussian: return "gaussian";
    case HeadKind::kQValues: return "q_values";
  }
  return "?";
}

const char* Name(RnnKind k) { return k == RnnKind::kLstm ? "lstm" : k == RnnKind::kGru ? "gru" : "none"; }
int64_t Gates(RnnKind k) { return k == RnnKind::kLstm ? 4 : 3; }

template <typename E>
E FromName(const std::string& s, std::initializer_list<E> all, const char* what) {
  for (E e : all)
    if (s == Name(e)) return e;
  throw Error(Cat("unknown ", what, " '", Printable(s), "'"));
}

int64_t Product(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{1}, std::multiplies<int64_t>());
}

// Checks one layer's sizes and weights against its input size; returns its
// output size.
int64_t CheckLayer(const Layer& l, int64_t in, const std::string& where) {
  RLF_RT_CHECK(l.in >= 1 && l.out >= 1 && l.in <= kMaxDim && l.out <= kMaxDim, where, ": sizes ", l.in, "x",
               l.out, " out of range");
  // Sizes in double first: every product below is then known to fit.
  double weights = static_cast<double>(l.in) * static_cast<double>(l.out), outputs = static_cast<double>(l.out);
  if (l.kind == LayerKind::kConv2d) {
    RLF_RT_CHECK(l.kernel >= 1 && l.stride >= 1 && l.stride <= 4096 && l.in_h >= l.kernel && l.in_w >= l.kernel &&
                     l.in_h <= 4096 && l.in_w <= 4096,
                 where, ": bad conv geometry");
    const double k2 = static_cast<double>(l.kernel) * static_cast<double>(l.kernel);
    const double positions = static_cast<double>(l.out_h()) * static_cast<double>(l.out_w());
    weights *= k2;
    outputs *= positions;
    RLF_RT_CHECK(static_cast<double>(l.in) * k2 * positions <= kMaxValues, where, ": im2col buffer too large");
  }
  RLF_RT_CHECK(weights <= kMaxWeights && outputs <= kMaxValues, where, ": too large (", weights, " weights, ",
               outputs, " outputs)");
  RLF_RT_CHECK(l.input_size() == in, where, " takes ", l.input_size(), " inputs but gets ", in);
  const int64_t wsize = l.kind == LayerKind::kLinear ? l.in * l.out : l.out * l.in * l.kernel * l.kernel;
  if (l.quantized()) {
    RLF_RT_CHECK(l.weight.empty() && static_cast<int64_t>(l.qweight.size()) == wsize &&
                     static_cast<int64_t>(l.qscale.size()) == l.out,
                 where, ": int8 weights of the wrong size");
  } else {
    RLF_RT_CHECK(static_cast<int64_t>(l.weight.size()) == wsize, where, ": ", l.weight.size(),
                 " weights, expected ", wsize);
  }
  RLF_RT_CHECK(static_cast<int64_t>(l.bias.size()) == l.out, where, ": ", l.bias.size(), " biases, expected ", l.out);
  // A NaN or infinite weight (a file edited or written from a diverged run)
  // would act arbitrarily: refused at load, as damage is.
  for (const auto* values : {&l.weight, &l.bias, &l.qscale})
    for (float v : *values) RLF_RT_CHECK(std::isfinite(v), where, ": a weight is ", v, " (not finite)");
  return l.output_size();
}

// Sizes of a chain: checks each layer against the previous one's output.
int64_t CheckChain(const std::vector<Layer>& chain, int64_t in, const char* name) {
  for (size_t i = 0; i < chain.size(); ++i) in = CheckLayer(chain[i], in, Cat(name, " layer ", i));
  return in;
}

// ---- JSON <-> Model ----------------------------------------------------------

// Integers of the header: JSON integers only (a float such as 1e300 would be
// undefined behaviour when converted).
int64_t Int(const Json& j) {
  RLF_RT_CHECK(j.is_number_integer(), "expected an integer, got ", j.type_name());
  return j.get<int64_t>();
}
std::vector<int64_t> Ints(const Json& j) {
  RLF_RT_CHECK(j.is_array() && j.size() <= 65536, "expected a list of integers");
  std::vector<int64_t> v;
  for (const auto& e : j) v.push_back(Int(e));
  return v;
}

// Tensors go to the blob; the JSON keeps where.
class BlobWriter {
 public:
  template <typename T>
  Json Put(const std::vector<T>& v, const char* dtype) {
    while (blob_.size() % 8) blob_.push_back('\0');
    Json j = {{"offset", blob_.size()}, {"count", v.size()}, {"dtype", dtype}};
    const auto* p = reinterpret_cast<const char*>(v.data());
    blob_.insert(blob_.end(), p, p + v.size() * sizeof(T));
    return j;
  }
  const std::string& blob() const { return blob_; }

 private:
  std::string blob_;
};

class BlobReader {
 public:
  explicit BlobReader(const std::string& blob) : blob_(blob) {}
  template <typename T>
  std::vector<T> Get(const Json& j, const char* dtype) {
    RLF_RT_CHECK(j.is_object() && j.contains("dtype") && j["dtype"].is_string() && j["dtype"] == dtype,
               "tensor of dtype ", dtype, " expected");
    const uint64_t off = static_cast<uint64_t>(Int(j.at("offset"))), count = static_cast<uint64_t>(Int(j.at("count")));
    RLF_RT_CHECK(count <= blob_.size() / sizeof(T) && off <= blob_.size() - count * sizeof(T),
                 "tensor beyond the end of the weights");
    std::vector<T> v(count);
    if (count) std::memcpy(v.data(), blob_.data() + off, count * sizeof(T));
    return v;
  }

 private:
  const std::string& blob_;
};

Json LayerJson(const Layer& l, BlobWriter& w) {
  Json j = {{"kind", l.kind == LayerKind::kLinear ? "linear" : "conv2d"},
            {"activation", Name(l.activation)},
            {"in", l.in},
            {"out", l.out}};
  if (l.kind == LayerKind::kConv2d) {
    j["kernel"] = l.kernel, j["stride"] = l.stride, j["in_h"] = l.in_h, j["in_w"] = l.in_w;
  }
  if (l.quantized()) {
    j["qweight"] = w.Put(l.qweight, "int8");
    j["qscale"] = w.Put(l.qscale, "float32");
  } else {
    j["weight"] = w.Put(l.weight, "float32");
  }
  j["bias"] = w.Put(l.bias, "float32");
  return j;
}

Layer LayerFrom(const Json& j, BlobReader& r) {
  Layer l;
  const std::string kind = j.at("kind").get<std::string>();
  RLF_RT_CHECK(kind == "linear" || kind == "conv2d", "unknown layer kind '", Printable(kind), "'");
  l.kind = kind == "linear" ? LayerKind::kLinear : LayerKind::kConv2d;
  l.activation = FromName(j.at("activation").get<std::string>(),
                          {Activation::kNone, Activation::kRelu, Activation::kTanh}, "activation");
  l.in = Int(j.at("in")), l.out = Int(j.at("out"));
  if (l.kind == LayerKind::kConv2d) {
    l.kernel = Int(j.at("kernel")), l.stride = Int(j.at("stride"));
    l.in_h = Int(j.at("in_h")), l.in_w = Int(j.at("in_w"));
  }
  if (j.contains("qweight")) {
    l.qweight = r.Get<int8_t>(j.at("qweight"), "int8");
    l.qscale = r.Get<float>(j.at("qscale"), "float32");
  } else {
    l.weight = r.Get<float>(j.at("weight"), "float32");
  }
  l.bias = r.Get<float>(j.at("bias"), "float32");
  return l;
}

Json ChainJson(const std::vector<Layer>& chain, BlobWriter& w) {
  Json a = Json::array();
  for (const Layer& l : chain) a.push_back(LayerJson(l, w));
  return a;
}

std::vector<Layer> ChainFrom(const Json& j, BlobReader& r) {
  RLF_RT_CHECK(j.is_array(), "a chain must be a list of layers");
  std::vector<Layer> out;
  for (const Json& l : j) out.push_back(LayerFrom(l, r));
  return out;
}

// The description shared by Describe() and the file header; w null: shapes only.
Json ModelJson(const Model& m, BlobWriter* w) {
  Json obs = {{"kind", Name(m.obs_kind)},
              {"shape", m.obs_shape},
              {"dtype", m.obs_dtype},
              {"size", m.obs_size()}};
  if (m.obs_kind == ObsKind::kDiscrete) obs["start"] = m.obs_start, obs["n"] = m.obs_n;
  if (m.obs_kind == ObsKind::kMultiDiscrete) obs["nvec"] = m.obs_nvec;
  if (m.obs_kind == ObsKind::kImage) obs["channels_last"] = m.channels_last;
  if (!m.obs_mean.empty()) {
    obs["normalize"] = {{"clip", m.obs_clip}, {"eps", m.obs_eps}};
    if (w) obs["normalize"]["mean"] = w->Put(m.obs_mean, "float32"), obs["normalize"]["var"] = w->Put(m.obs_var, "float32");
  }
  Json head = {{"kind", Name(m.head)}, {"action_size", m.action_size()}, {"mask_size", m.mask_size()},
               {"outputs_size", m.outputs_size()}, {"action_mask", m.action_mask}};
  switch (m.head) {
    case HeadKind::kCategorical: head["n"] = m.num_actions, head["start"] = m.action_start; break;
    case HeadKind::kMultiCategorical: head["nvec"] = m.nvec, head["conditional_mask"] = m.conditional_mask; break;
    case HeadKind::kGaussian:
      // The bounds go to the blob (JSON has no infinity); the description
      // shows them with null for +-inf.
      if (w) {
        head["log_std"] = w->Put(m.log_std, "float32");
        head["low"] = w->Put(m.low, "float32"), head["high"] = w->Put(m.high, "float32");
      } else {
        head["low"] = m.low, head["high"] = m.high;
      }
      break;
    case HeadKind::kQValues:
      head["n"] = m.num_actions, head["start"] = m.action_start, head["quantiles"] = m.quantiles,
      head["dueling"] = m.dueling;
      break;
  }
  Json j = {{"algo", m.algo},
            {"env", m.env},
            {"env_kwargs", m.env_kwargs},
            {"train_steps", m.train_steps},
            {"observation", obs},
            {"head", head},
            {"has_value", m.has_value()},
            {"encoder_minmax", m.encoder_minmax},
            {"value_support", m.value_support},
            {"value_eps", m.value_eps}};
  if (m.recurrent())
    j["core"] = {{"kind", Name(m.rnn_kind)}, {"hidden", m.rnn_hidden}, {"layers", m.rnn_layers()},
                 {"state_size", m.state_size()}};
  if (w) {
    if (m.recurrent()) j["core"]["rnn"] = ChainJson(m.rnn, *w);
    j["encoder"] = ChainJson(m.encoder, *w), j["shared"] = ChainJson(m.shared, *w);
    j["policy"] = ChainJson(m.policy, *w), j["value"] = ChainJson(m.value, *w);
  } else {
    auto shapes = [](const std::vector<Layer>& c) {
      Json a = Json::array();
      for (const Layer& l : c)
        a.push_back(Cat(l.kind == LayerKind::kLinear ? "linear " : "conv2d ", l.in, "->", l.out,
                        l.kind == LayerKind::kConv2d ? Cat(" k", l.kernel, "/", l.stride) : std::string(),
                        l.activation == Activation::kNone ? "" : Cat(" ", Name(l.activation)),
                        l.quantized() ? " int8" : ""));
      return a;
    };
    j["network"] = {{"encoder", shapes(m.encoder)}, {"shared", shapes(m.shared)},
                    {"policy", shapes(m.policy)}, {"value", shapes(m.value)}};
    if (m.recurrent()) j["network"]["core"] = shapes(m.rnn);
  }
  return j;
}

Model ModelFrom(const Json& j, BlobReader& r) {
  Model m;
  m.algo = j.value("algo", ""), m.env = j.value("env", ""), m.env_kwargs = j.value("env_kwargs", "");
  m.train_steps = j.value("train_steps", int64_t{0});
  const Json& obs = j.at("observation");
  m.obs_kind = FromName(obs.at("kind").get<std::string>(),
                        {ObsKind::kBox, ObsKind::kDiscrete, ObsKind::kMultiDiscrete, ObsKind::kImage}, "observation kind");
  m.obs_shape = Ints(obs.at("shape"));
  m.obs_dtype = obs.value("dtype", "float32");
  if (m.obs_kind == ObsKind::kDiscrete) m.obs_start = Int(obs.at("start")), m.obs_n = Int(obs.at("n"));
  if (m.obs_kind == ObsKind::kMultiDiscrete) m.obs_nvec = Ints(obs.at("nvec"));
  if (m.obs_kind == ObsKind::kImage) m.channels_last = obs.at("channels_last").get<bool>();
  if (obs.contains("normalize")) {
    const Json& n = obs.at("normalize");
    m.obs_clip = n.at("clip").get<double>(), m.obs_eps = n.at("eps").get<double>();
    m.obs_mean = r.Get<float>(n.at("mean"), "float32"), m.obs_var = r.Get<float>(n.at("var"), "float32");
  }
  const Json& head = j.at("head");
  m.head = FromName(head.at("kind").get<std::string>(),
                    {HeadKind::kCategorical, HeadKind::kMultiCategorical, HeadKind::kGaussian, HeadKind::kQValues},
                    "head");
  m.action_mask = head.value("action_mask", false);
  switch (m.head) {
    case HeadKind::kCategorical:
      m.num_actions = Int(head.at("n")), m.action_start = Int(head.at("start"));
      break;
    case HeadKind::kMultiCategorical:
      m.nvec = Ints(head.at("nvec"));
      m.conditional_mask = head.value("conditional_mask", false);
      break;
    case HeadKind::kGaussian:
      m.low = r.Get<float>(head.at("low"), "float32"), m.high = r.Get<float>(head.at("high"), "float32");
      m.log_std = r.Get<float>(head.at("log_std"), "float32");
      break;
    case HeadKind::kQValues:
      m.num_actions = Int(head.at("n")), m.action_start = Int(head.at("start"));
      m.quantiles = Int(head.at("quantiles")), m.dueling = head.at("dueling").get<bool>();
      break;
  }
  m.encoder_minmax = j.value("encoder_minmax", false);
  m.value_support = j.contains("value_support") ? Int(j.at("value_support")) : 0;
  m.value_eps = j.value("value_eps", 0.001);
  if (j.contains("core")) {
    const Json& core = j.at("core");
    m.rnn_kind = FromName(core.at("kind").get<std::string>(), {RnnKind::kLstm, RnnKind::kGru}, "recurrent core");
    m.rnn_hidden = Int(core.at("hidden"));
    m.rnn = ChainFrom(core.at("rnn"), r);
  }
  m.encoder = ChainFrom(j.at("encoder"), r), m.shared = ChainFrom(j.at("shared"), r);
  m.policy = ChainFrom(j.at("policy"), r), m.value = ChainFrom(j.at("value"), r);
  return m;
}

void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t GetLE(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s[at + i])) << (8 * i);
  return v;
}

}  // namespace

int64_t Model::obs_size() const {
  switch (obs_kind) {
    case ObsKind::kDiscrete: return 1;
    case ObsKind::kMultiDiscrete: return static_cast<int64_t>(obs_nvec.size());
    default: return Product(obs_shape);
  }
}

int64_t Model::state_size() const {
  return recurrent() ? rnn_layers() * rnn_hidden * (rnn_kind == RnnKind::kLstm ? 2 : 1) : 0;
}

int64_t Model::action_size() const {
  switch (head) {
    case HeadKind::kMultiCategorical: return static_cast<int64_t>(nvec.size());
    case HeadKind::kGaussian: return static_cast<int64_t>(log_std.size());
    default: return 1;
  }
}

int64_t Model::mask_size() const {
  switch (head) {
    case HeadKind::kMultiCategorical: return std::accumulate(nvec.begin(), nvec.end(), int64_t{0});
    case HeadKind::kGaussian: return 0;
    default: return num_actions;
  }
}

int64_t Model::outputs_size() const {
  switch (head) {
    case HeadKind::kCategorical: return num_actions;
    case HeadKind::kMultiCategorical: return mask_size();
    case HeadKind::kGaussian: return action_size();
    case HeadKind::kQValues: return dueling ? num_actions + 1 : num_actions * quantiles;
  }
  return 0;
}

void Model::Validate() const {
  RLF_RT_CHECK(obs_shape.size() <= 8, "observation shape of ", obs_shape.size(), " dimensions");
  double elements = 1;
  for (int64_t d : obs_shape) {
    RLF_RT_CHECK(d >= 1 && d <= kMaxDim, "observation dimension ", d, " out of range");
    elements *= static_cast<double>(d);
  }
  RLF_RT_CHECK(elements <= kMaxValues, "observation of ", elements, " values is too large");
  RLF_RT_CHECK(obs_nvec.size() <= 65536 && nvec.size() <= 65536, "too many MultiDiscrete dimensions");
  for (const auto* v : {&obs_nvec, &nvec})
    for (int64_t n : *v) RLF_RT_CHECK(n >= 1 && n <= kMaxDim, "MultiDiscrete sizes must be in 1..2^24, got ", n);
  RLF_RT_CHECK(obs_n >= 0 && obs_n <= kMaxDim && num_actions >= 0 && num_actions <= kMaxDim,
               "Discrete sizes must be in 1..2^24");
  RLF_RT_CHECK(quantiles >= 1 && quantiles <= 65536, "quantiles must be in 1..65536, got ", quantiles);
  for (const auto* values : {&log_std, &obs_mean, &obs_var})
    for (float v : *values) RLF_RT_CHECK(std::isfinite(v), "a log_std or normalization value is ", v, " (not finite)");
  RLF_RT_CHECK(action_start >= -kMaxDim && action_start <= kMaxDim && obs_start >= -kMaxDim && obs_start <= kMaxDim,
               "Discrete starts must be in -2^24..2^24, got ", action_start, " and ", obs_start);
  RLF_RT_CHECK(log_std.size() <= static_cast<size_t>(kMaxDim), "too many Box action dimensions");
  int64_t features = 0;
  switch (obs_kind) {
    case ObsKind::kBox:
      RLF_RT_CHECK(!obs_shape.empty() && obs_size() >= 1, "a Box observation needs a shape");
      features = obs_size();
      break;
    case ObsKind::kDiscrete:
      RLF_RT_CHECK(obs_n >= 1, "a Discrete observation needs n >= 1");
      features = obs_n;
      break;
    case ObsKind::kMultiDiscrete:
      RLF_RT_CHECK(!obs_nvec.empty(), "a MultiDiscrete observation needs nvec");
      for (int64_t n : obs_nvec) {
        RLF_RT_CHECK(n >= 1, "MultiDiscrete observation sizes must be >= 1");
        features += n;
      }
      break;
    case ObsKind::kImage:
      RLF_RT_CHECK(obs_shape.size() == 3 && Product(obs_shape) >= 1, "an image observation needs 3 dimensions");
      features = obs_size();
      break;
  }
  if (!obs_mean.empty()) {
    RLF_RT_CHECK(obs_kind == ObsKind::kBox, "observation normalization needs a Box observation");
    RLF_RT_CHECK(static_cast<int64_t>(obs_mean.size()) == obs_size() &&
                     static_cast<int64_t>(obs_var.size()) == obs_size(),
                 "normalization statistics of ", obs_mean.size(), " values for ", obs_size(), " observations");
    // (x - mean) / sqrt(var + eps) clipped to +-clip: anything else makes
    // NaNs of every observation, or passes them unclipped.
    RLF_RT_CHECK(std::isfinite(obs_eps) && obs_eps > 0, "normalization eps must be a positive number, got ", obs_eps);
    RLF_RT_CHECK(std::isfinite(obs_clip) && obs_clip > 0, "normalization clip must be a positive number, got ",
                 obs_clip);
    for (float v : obs_var) RLF_RT_CHECK(v >= 0, "a normalization variance is ", v, " (negative)");
  }
  RLF_RT_CHECK(obs_kind != ObsKind::kImage || !encoder.empty(), "an image observation needs an encoder");
  int64_t x = CheckChain(encoder, features, "encoder");
  if (recurrent()) {
    RLF_RT_CHECK(rnn_hidden >= 1 && rnn_hidden <= kMaxDim, "recurrent hidden size ", rnn_hidden, " out of range");
    RLF_RT_CHECK(!rnn.empty() && rnn.size() % 2 == 0 && rnn.size() <= 32,
                 "a recurrent core needs 1 to 16 layers, two Linear layers each; got ", rnn.size(), " layers");
    const int64_t G = Gates(rnn_kind) * rnn_hidden;
    for (size_t l = 0; l < rnn.size(); l += 2) {
      const std::string where = Cat("recurrent layer ", l / 2);
      for (size_t k = l; k < l + 2; ++k)
        RLF_RT_CHECK(rnn[k].kind == LayerKind::kLinear && rnn[k].activation == Activation::kNone &&
                         !rnn[k].quantized() && rnn[k].out == G,
                     where, ": its weights must be float Linear layers of ", G, " outputs with no activation");
      RLF_RT_CHECK(rnn[l + 1].in == rnn_hidden, where, ": the hidden-to-gates layer takes ", rnn[l + 1].in,
                   " inputs, expected ", rnn_hidden);
      CheckLayer(rnn[l], x, where + " input-to-gates");
      CheckLayer(rnn[l + 1], rnn_hidden, where + " hidden-to-gates");
      x = rnn_hidden;
    }
  } else {
    RLF_RT_CHECK(rnn.empty() && rnn_hidden == 0, "recurrent weights without a recurrent core kind");
  }
  x = CheckChain(shared, x, "shared");
  RLF_RT_CHECK(!policy.empty() || !shared.empty() || !encoder.empty() || recurrent(), "the model has no network");
  const int64_t pi = CheckChain(policy, x, "policy");
  RLF_RT_CHECK(value_support >= 0 && value_support <= 65536, "value_support must be in 0..65536");
  RLF_RT_CHECK(value_eps > 0 && value_eps < 1, "value_eps must be in (0, 1)");
  RLF_RT_CHECK(!encoder_minmax || !encoder.empty(), "encoder_minmax needs an encoder");
  if (!value.empty())
    RLF_RT_CHECK(CheckChain(value, x, "value") == (value_support ? 2 * value_support + 1 : 1), "the value chain must end in ",
                 value_support ? 2 * value_support + 1 : 1, " outputs");
  switch (head) {
    case HeadKind::kCategorical:
    case HeadKind::kQValues:
      RLF_RT_CHECK(num_actions >= 1, "the head needs n >= 1 actions");
      RLF_RT_CHECK(quantiles >= 1 && !(dueling && quantiles != 1), "bad quantiles/dueling");
      break;
    case HeadKind::kMultiCategorical:
      RLF_RT_CHECK(!nvec.empty(), "a multi_categorical head needs nvec");
      for (int64_t n : nvec) RLF_RT_CHECK(n >= 1, "nvec entries must be >= 1");
      break;
    case HeadKind::kGaussian:
      RLF_RT_CHECK(!log_std.empty() && low.size() == log_std.size() && high.size() == log_std.size(),
                   "a gaussian head needs log_std, low and high of one size");
      for (size_t i = 0; i < low.size(); ++i)
        RLF_RT_CHECK(low[i] <= high[i], "action bounds of dimension ", i, " are [", low[i], ", ", high[i],
                     "] (low <= high needed; +-inf for none)");
      break;
  }
  RLF_RT_CHECK(pi == outputs_size(), "the policy chain gives ", pi, " outputs; the ", Name(head), " head needs ",
               outputs_size());
}

std::string Model::Describe() const { return ModelJson(*this, nullptr).dump(2); }

std::string Serialize(const Model& model) {
  model.Validate();
  BlobWriter w;
  const std::string header = ModelJson(model, &w).dump();
  std::string out(kMagic, sizeof(kMagic));
  PutU32(&out, model.recurrent() ? 2u : 1u);
  PutU32(&out, static_cast<uint32_t>(header.size()));
  out += header;
  PutU64(&out, w.blob().size());
  out += w.blob();
  PutU32(&out, Crc32(out.data(), out.size()));
  return out;
}

Model Parse(const std::string& b, const std::string& what) {
  try {
    RLF_RT_CHECK(b.size() >= 8 && std::memcmp(b.data(), kMagic, 8) == 0, "not an rlforge model (.rlf) file");
    RLF_RT_CHECK(b.size() >= 24, "truncated (", b.size(), " bytes)");
    const auto version = static_cast<uint32_t>(GetLE(b, 8, 4));
    RLF_RT_CHECK(version >= 1 && version <= kVersion, "format version ", version, ", this runtime reads versions 1 to ",
                 kVersion);
    const uint64_t h = GetLE(b, 12, 4);
    RLF_RT_CHECK(h <= kMaxHeader && 16 + h + 8 + 4 <= b.size(), "truncated (", b.size(), " bytes)");
    const uint64_t n = GetLE(b, 16 + h, 8);
    RLF_RT_CHECK(n <= kMaxBlob && 16 + h + 8 + n + 4 == b.size(), "truncated or padded: ", b.size(),
                 " bytes where the header promises ", 16 + h + 8 + std::min(n, kMaxBlob) + 4);
    const size_t body = b.size() - 4;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    RLF_RT_CHECK(Crc32(b.data(), body) == static_cast<uint32_t>(GetLE(b, body, 4)),
                 "damaged (checksum mismatch)");
#endif
    const Json j = Json::parse(b.begin() + 16, b.begin() + 16 + static_cast<std::ptrdiff_t>(h));
    const std::string blob = b.substr(16 + h + 8, n);
    BlobReader r(blob);
    Model m = ModelFrom(j, r);
    RLF_RT_CHECK(version >= 2 || !m.recurrent(), "a recurrent core in a version 1 file");
    m.Validate();
    return m;
  } catch (const Json::exception& e) {
    throw Error(Cat(what, ": bad model description (", e.what(), ")"));
  } catch (const Error& e) {
    throw Error(Cat(what, ": ", e.what()));
  }
}

void Save(const Model& model, const std::string& to) {
  const std::string bytes = Serialize(model);
  // The rename below would replace a link, a device or a FIFO: write through
  // a link to its file, and refuse anything else that is not a file.
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string path = fs::exists(to, ec) ? fs::canonical(to, ec).string() : to;
  if (ec || path.empty()) path = to;
  RLF_RT_CHECK(!fs::exists(path, ec) || fs::is_regular_file(path, ec), "cannot write ", to,
               ": it is not a regular file");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    RLF_RT_CHECK(f, "cannot write ", tmp);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      f.close();
      std::remove(tmp.c_str());
      throw Error(Cat("cannot write ", path, " (disk full?)"));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(Cat("cannot write ", path));
  }
}

Model Load(const std::string& path) {
  // Every failure is a one-line Error (a directory, a device, an endless
  // stream included): the magic first, then at most the largest model.
  std::ifstream f(path, std::ios::binary);
  RLF_RT_CHECK(f, path, ": cannot open");
  char magic[sizeof(kMagic)] = {};
  f.read(magic, sizeof(magic));
  RLF_RT_CHECK(!f.bad(), path, ": cannot read (a directory?)");
  RLF_RT_CHECK(f.gcount() == static_cast<std::streamsize>(sizeof(magic)) &&
                   std::memcmp(magic, kMagic, sizeof(kMagic)) == 0,
               path, ": not an rlforge model (.rlf) file");
  std::string bytes(magic, sizeof(magic));
  constexpr uint64_t kMaxFile = 16 + kMaxHeader + 8 + kMaxBlob + 4;
  char buf[1 << 16];
  while (f.read(buf, sizeof(buf)) || f.gcount() > 0) {
    bytes.append(buf, static_cast<size_t>(f.gcount()));
    RLF_RT_CHECK(bytes.size() <= kMaxFile, path, ": larger than any rlforge model (", kMaxFile, " bytes)");
  }
  RLF_RT_CHECK(!f.bad(), path, ": cannot read");
  return Parse(bytes, path);
}

void Quantize(Model* model) {
  for (auto* chain : {&model->encoder, &model->shared, &model->policy, &model->value}) {
    const bool output_chain = chain == &model->policy || chain == &model->value;
    for (Layer& l : *chain) {
      // The output layers stay float: actions are chosen by gaps between
      // logits or Q-values that are small next to the values themselves.
      if (l.quantized() || (output_chain && &l == &chain->back())) continue;
      const int64_t row = static_cast<int64_t>(l.weight.size()) / l.out;
      l.qweight.resize(l.weight.size());
      l.qscale.resize(l.out);
      for (int64_t o = 0; o < l.out; ++o) {
        const float* w = l.weight.data() + o * row;
        float m = 0;
        for (int64_t i = 0; i < row; ++i) m = std::max(m, std::abs(w[i]));
        const float s = m > 0 ? m / 127.0f : 1.0f;
        l.qscale[o] = s;
        for (int64_t i = 0; i < row; ++i)
          l.qweight[o * row + i] = static_cast<int8_t>(std::clamp(std::lround(w[i] / s), -127L, 127L));
      }
      l.weight.clear();
      l.weight.shrink_to_fit();
    }
  }
}

}  // namespace rlforge::runtime
