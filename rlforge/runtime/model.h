// rlforge/runtime/model.h — a trained policy as plain data, and its file
// format (.rlf). No libtorch, no Python, no other part of rlforge: this
// folder is what a game links (with nlohmann-json's header).
//
// A Model is a feed-forward network described layer by layer, with what
// surrounds it:
//   observation -> preprocessing -> encoder [-> min-max] -> shared -> policy -> head -> action
//                                                                  \-> value  -> value
// Preprocessing turns the observation (always given as floats: the values of
// a Box, the index of a Discrete, the indices of a MultiDiscrete, pixel values
// 0..255 of an image) into the network's input: Box -> (x - mean) /
// sqrt(var + eps) clipped to +-clip when the agent normalized observations,
// else as is; Discrete -> one-hot of (x - start); MultiDiscrete -> the
// one-hots concatenated; image -> x / 255, [H, W, C] moved to [C, H, W].
// Each chain is a list of layers (Linear or Conv2d, each followed by its
// activation; a Conv2d's output is flattened in [C, H, W] order before a
// Linear).
//
// A recurrent model (recurrent PPO's LSTM or GRU) has a core between the
// encoder and the shared chain, with a state carried from step to step:
//   encoder -> core (rnn_layers stacked LSTM/GRU layers of rnn_hidden) -> shared -> ...
// `rnn` holds two Linear layers per stacked layer, input-to-gates then
// hidden-to-gates, gates in torch's order (LSTM i, f, g, o; GRU r, z, n):
//   LSTM  g = W_ih x + b_ih + W_hh h + b_hh;  c' = sig(f) c + sig(i) tanh(g);
//         h' = sig(o) tanh(c')
//   GRU   r, z = sig(W_ih x + b_ih + W_hh h + b_hh) (their rows);
//         n = tanh(W_in x + b_in + r (W_hn h + b_hn));  h' = (1 - z) n + z h
// The state of one row is state_size() floats: h of layers 0..L-1, then
// (LSTM) c of layers 0..L-1; zero at the start of an episode.
//
// The head turns the policy chain's outputs into actions:
//   categorical        logits [n]; masked argmax, or a sample of softmax
//   multi_categorical  logits [sum nvec], one categorical per dimension
//   gaussian           mean [d] and state-independent log_std [d]; the
//                      mean, or mean + exp(log_std) N(0, 1); clipped to
//                      [low, high]
//   q_values           [n * quantiles] (or [n + 1] with a dueling head:
//                      value, then advantages); Q = the mean over quantiles
//                      (dueling: v + a - mean(a)); masked argmax
// Discrete actions are returned with the space's start added.
//
// File format (all integers little-endian):
//   "RLFMODEL" (8 bytes), u32 version (1; 2 with a recurrent core), u32 header bytes H,
//   H bytes of JSON (the model's description; tensors as {"offset", "count",
//   "dtype"} into the blob), u64 blob bytes N, N bytes of blob (float32 or
//   int8 arrays, 8-byte aligned), u32 CRC-32 of everything before it.
#ifndef RLFORGE_RUNTIME_MODEL_H_
#define RLFORGE_RUNTIME_MODEL_H_

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rlforge::runtime {

// Every failure of this library: a one-line reason.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Activation { kNone, kRelu, kTanh };
enum class LayerKind { kLinear, kConv2d };

struct Layer {
  LayerKind kind = LayerKind::kLinear;
  Activation activation = Activation::kNone;
  int64_t in = 0, out = 0;  // features (Linear) or channels (Conv2d)
  // Conv2d only: square kernel, stride, no padding; the input's height and
  // width (the output's follow).
  int64_t kernel = 0, stride = 1, in_h = 0, in_w = 0;
  std::vector<float> weight;  // Linear [out, in]; Conv2d [out, in, k, k] (as torch)
  std::vector<float> bias;    // [out]
  // int8 weights (Quantize): weight ~= qweight * qscale[row], one scale per
  // output row; `weight` is then empty.
  std::vector<int8_t> qweight;
  std::vector<float> qscale;

  int64_t out_h() const { return (in_h - kernel) / stride + 1; }
  int64_t out_w() const { return (in_w - kernel) / stride + 1; }
  int64_t input_size() const { return kind == LayerKind::kLinear ? in : in * in_h * in_w; }
  int64_t output_size() const { return kind == LayerKind::kLinear ? out : out * out_h() * out_w(); }
  bool quantized() const { return !qweight.empty(); }
};

enum class ObsKind { kBox, kDiscrete, kMultiDiscrete, kImage };
enum class RnnKind { kNone, kLstm, kGru };
enum class HeadKind { kCategorical, kMultiCategorical, kGaussian, kQValues };

struct Model {
  // Where it came from (free text, for people): algo, env ID, env kwargs,
  // the run's seed and step count.
  std::string algo, env;
  std::string env_kwargs;  // e.g. "{map_name: 8x8}"
  int64_t train_steps = 0;

  // Observation.
  ObsKind obs_kind = ObsKind::kBox;
  std::vector<int64_t> obs_shape;  // the env's observation shape ([] for Discrete)
  std::string obs_dtype = "float32";  // the env's dtype (the runtime takes floats)
  int64_t obs_start = 0;              // Discrete
  int64_t obs_n = 0;                  // Discrete: number of values
  std::vector<int64_t> obs_nvec;      // MultiDiscrete
  bool channels_last = false;         // image stored [H, W, C]
  // Observation normalization (Box), empty when the agent did not normalize.
  std::vector<float> obs_mean, obs_var;
  double obs_clip = 10.0, obs_eps = 1e-8;

  // Network.
  std::vector<Layer> encoder, shared, policy, value;
  // MuZero's representation: each row of the encoder's output is scaled to
  // [0, 1] by its own min and max (the span at least 1e-5).
  bool encoder_minmax = false;
  // Recurrent core (see above): kind, hidden width, and 2 * layers Linear
  // layers (input-to-gates, hidden-to-gates per stacked layer); float only.
  RnnKind rnn_kind = RnnKind::kNone;
  int64_t rnn_hidden = 0;
  std::vector<Layer> rnn;
  // value_support S > 0: the value chain gives logits over -S..S; the value
  // is h^-1(sum_i softmax_i * i), h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps x
  // (MuZero's value transform, eps = value_eps).
  int64_t value_support = 0;
  double value_eps = 0.001;

  // Head and action space.
  HeadKind head = HeadKind::kCategorical;
  int64_t num_actions = 0;             // categorical / q_values
  int64_t action_start = 0;            // Discrete's start
  std::vector<int64_t> nvec;           // multi_categorical
  std::vector<float> log_std;          // gaussian [d]
  std::vector<float> low, high;        // gaussian: the Box's bounds [d]
  int64_t quantiles = 1;               // q_values
  bool dueling = false;                // q_values
  // The env restricts MultiDiscrete dimensions given the earlier ones
  // (Policy::set_conditional_mask supplies them at run time).
  bool conditional_mask = false;
  // The env gives legal-action masks (the ONNX graph then takes a mask
  // input; the runtime and TorchScript take one in any case, optionally).
  bool action_mask = false;

  // Floats per observation given to the runtime.
  int64_t obs_size() const;
  // Values per action: 1 (categorical, q_values), len(nvec), or d (gaussian).
  int64_t action_size() const;
  // Bytes of a legal-action mask: n (categorical, q_values), sum(nvec), or 0.
  int64_t mask_size() const;
  // Width of the policy chain's output (logits, mean, Q outputs).
  int64_t outputs_size() const;
  bool has_value() const { return !value.empty(); }
  bool recurrent() const { return rnn_kind != RnnKind::kNone; }
  // Stacked recurrent layers, and floats of state per row (0: feed-forward).
  int64_t rnn_layers() const { return static_cast<int64_t>(rnn.size()) / 2; }
  int64_t state_size() const;
  // Checks every size against every other; Error naming the first mismatch.
  void Validate() const;
  // The model's description as JSON (no weights): names, shapes, dtypes,
  // action semantics.
  std::string Describe() const;
};

void Save(const Model& model, const std::string& path);
// Error ("<path>: ...") when the file is missing, not an rlf file, of another
// version, truncated, damaged (CRC mismatch) or inconsistent.
Model Load(const std::string& path);
// The same from bytes in memory.
Model Parse(const std::string& bytes, const std::string& what = "model");
std::string Serialize(const Model& model);

// int8 weights with one symmetric scale per output row (max |w| / 127) for
// every hidden layer; the output layers of the policy and value chains, the
// recurrent core, biases, normalization and the head stay float.
void Quantize(Model* model);

}  // namespace rlforge::runtime

#endif  // RLFORGE_RUNTIME_MODEL_H_
