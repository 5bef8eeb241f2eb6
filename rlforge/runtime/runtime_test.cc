// The torch-free runtime on worked examples: this binary links only
// rlforge_runtime (and gtest), which is itself the check that the runtime
// needs no libtorch.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <optional>

#include "rlforge/runtime/model.h"
#include "rlforge/runtime/policy.h"

// Counts heap allocations (the "no allocation per call" test).
static std::atomic<int64_t> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace rlforge::runtime {
namespace {

Layer Linear(int64_t in, int64_t out, std::vector<float> w, std::vector<float> b, Activation a = Activation::kNone) {
  Layer l;
  l.in = in, l.out = out, l.weight = std::move(w), l.bias = std::move(b), l.activation = a;
  return l;
}

// obs [2] -> linear 2->2 relu -> linear 2->3 (logits); value: linear 2->1 tanh.
Model SmallCategorical() {
  Model m;
  m.algo = "test", m.env = "Test-v0";
  m.obs_kind = ObsKind::kBox, m.obs_shape = {2};
  m.shared = {Linear(2, 2, {1, -1, 0.5f, 2}, {0, 1}, Activation::kRelu)};
  m.policy = {Linear(2, 3, {1, 0, 0, 1, 1, 1}, {0, 0, -10})};
  m.value = {Linear(2, 1, {0.25f, 0.5f}, {-1}, Activation::kTanh)};
  m.head = HeadKind::kCategorical, m.num_actions = 3, m.action_start = 10;
  return m;
}

TEST(RuntimeTest, ForwardMatchesHandComputation) {
  Policy p(SmallCategorical());
  // obs (3, 1): h = relu(3 - 1 + 0, 1.5 + 2 + 1) = (2, 4.5);
  // logits = (2, 4.5, 6.5 - 10 = -3.5); value = tanh(0.5 + 2.25 - 1) = tanh(1.75).
  const float obs[] = {3, 1};
  float out[3], v;
  p.Outputs(obs, 1, out);
  EXPECT_FLOAT_EQ(out[0], 2.0f);
  EXPECT_FLOAT_EQ(out[1], 4.5f);
  EXPECT_FLOAT_EQ(out[2], -3.5f);
  p.Values(obs, 1, &v);
  EXPECT_FLOAT_EQ(v, std::tanh(1.75f));
  EXPECT_EQ(p.Act(obs), 11);  // argmax 1, plus start 10
  const uint8_t mask[] = {1, 0, 1};
  EXPECT_EQ(p.Act(obs, mask), 10);
  const uint8_t none[] = {0, 0, 0};
  EXPECT_THROW(p.Act(obs, none), Error);
  // Probabilities under the mask: softmax of (2, -3.5) over the legal two.
  float probs[3];
  p.Scores(obs, 1, mask, probs);
  EXPECT_NEAR(probs[0], 1.0 / (1.0 + std::exp(-5.5)), 1e-6);
  EXPECT_EQ(probs[1], 0.0f);
  // A batch of four rows takes the four-row kernel: the same values.
  const float batch[] = {3, 1, 3, 1, 3, 1, 3, 1, 0, 0};
  float outs[15];
  p.Outputs(batch, 5, outs);
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 3; ++j) EXPECT_FLOAT_EQ(outs[r * 3 + j], out[j]);
  // obs (0, 0): h = relu(0, 1) -> logits (0, 1, -9).
  EXPECT_FLOAT_EQ(outs[12], 0.0f);
  EXPECT_FLOAT_EQ(outs[13], 1.0f);
}

// obs [1] -> one recurrent layer of width 1 -> identity policy Linear ->
// Gaussian mean: the output is h itself.
Model OneUnitCore(RnnKind kind) {
  Model m;
  m.algo = "test", m.env = "Test-v0";
  m.obs_kind = ObsKind::kBox, m.obs_shape = {1};
  m.rnn_kind = kind, m.rnn_hidden = 1;
  if (kind == RnnKind::kLstm) {
    // Input-to-gates 1 each, hidden-to-gates 0.5 each, forget bias 1.
    m.rnn = {Linear(1, 4, {1, 1, 1, 1}, {0, 0, 0, 0}), Linear(1, 4, {0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 0})};
  } else {
    // Input-to-gates 1 each, hidden-to-gates 0.5 each, b_hn 0.25.
    m.rnn = {Linear(1, 3, {1, 1, 1}, {0, 0, 0}), Linear(1, 3, {0.5f, 0.5f, 0.5f}, {0, 0, 0.25f})};
  }
  m.policy = {Linear(1, 1, {1}, {0})};
  m.head = HeadKind::kGaussian, m.log_std = {0}, m.low = {-10}, m.high = {10};
  return m;
}

TEST(RuntimeTest, RecurrentCoreMatchesHandComputation) {
  // LSTM, x = 0.5, 0.5, -1 from h = c = 0:
  //   g = x + 0.5 h (+1 on the forget gate); c' = sig(g_f) c + sig(g_i) tanh(g_g);
  //   h' = sig(g_o) tanh(c'), computed in double:
  const double lstm_h[] = {0.17426971865610508, 0.33500980495798954, 0.03216237197156146};
  const double lstm_c[] = {0.28764913664496794, 0.5780514139402381, 0.10650610714816408};
  // GRU: r = z = sig(x + 0.5 h); n = tanh(x + r (0.5 h + 0.25)); h' = (1 - z) n + z h.
  const double gru_h[] = {0.21725113462304102, 0.36073461194770823, -0.3759635607581471};
  const float xs[] = {0.5f, 0.5f, -1.0f};
  for (RnnKind kind : {RnnKind::kLstm, RnnKind::kGru}) {
    Policy p(OneUnitCore(kind));
    const bool lstm = kind == RnnKind::kLstm;
    ASSERT_TRUE(p.recurrent());
    ASSERT_EQ(p.state_size(), lstm ? 2 : 1);
    float a, state[2];
    for (int t = 0; t < 3; ++t) {
      p.Act(&xs[t], 1, &a, true);
      EXPECT_NEAR(a, lstm ? lstm_h[t] : gru_h[t], 1e-6) << (lstm ? "lstm" : "gru") << " step " << t;
      p.GetState(1, state);
      EXPECT_NEAR(state[0], lstm ? lstm_h[t] : gru_h[t], 1e-6);
      if (lstm) EXPECT_NEAR(state[1], lstm_c[t], 1e-6);
    }
    // Reset: the first step again. SetState: the third step again.
    p.ResetState(0);
    p.Act(&xs[0], 1, &a, true);
    EXPECT_NEAR(a, lstm ? lstm_h[0] : gru_h[0], 1e-6);
    const float after_two[] = {static_cast<float>(lstm ? lstm_h[1] : gru_h[1]), static_cast<float>(lstm_c[1])};
    p.SetState(1, after_two);
    p.Act(&xs[2], 1, &a, true);
    EXPECT_NEAR(a, lstm ? lstm_h[2] : gru_h[2], 1e-6);
    // Rows are independent: row 1 starts from zero while row 0 goes on.
    p.ResetState();
    const float two[] = {0.5f, 0.5f};
    float acts[2];
    p.Act(two, 1, &a, true);
    p.Act(two, 2, acts, true);
    EXPECT_NEAR(acts[0], lstm ? lstm_h[1] : gru_h[1], 1e-6);
    EXPECT_NEAR(acts[1], lstm ? lstm_h[0] : gru_h[0], 1e-6);
    // A copy carries the state; the model read back from its bytes acts the
    // same from a zero state.
    Policy copy(p);
    float s1[4], s2[4];
    p.GetState(2, s1);
    copy.GetState(2, s2);
    for (int i = 0; i < 2 * p.state_size(); ++i) EXPECT_EQ(s1[i], s2[i]);
    Policy loaded(Parse(Serialize(p.model())));
    loaded.Act(&xs[0], 1, &a, true);
    EXPECT_NEAR(a, lstm ? lstm_h[0] : gru_h[0], 1e-6);
    const float nan_state[] = {std::numeric_limits<float>::quiet_NaN(), 0};
    EXPECT_THROW(p.SetState(1, nan_state), Error);
    // Once reserved, stepping allocates nothing (the core's scratch included).
    p.Reserve(2);
    const int64_t before = g_allocations.load();
    for (int i = 0; i < 50; ++i) p.Act(two, 2, acts, true);
    EXPECT_EQ(g_allocations.load() - before, 0);
  }
  // A refused call (a mask with no legal action) leaves the state as it was.
  Model cat = OneUnitCore(RnnKind::kLstm);
  cat.policy = {Linear(1, 2, {1, -1}, {0, 0})};
  cat.head = HeadKind::kCategorical, cat.num_actions = 2, cat.log_std.clear(), cat.low.clear(), cat.high.clear();
  Policy pc(cat);
  int64_t action;
  pc.Act(&xs[0], 1, nullptr, &action);
  float before[2], after[2];
  pc.GetState(1, before);
  const uint8_t none[] = {0, 0};
  EXPECT_THROW(pc.Act(&xs[1], 1, none, &action), Error);
  EXPECT_THROW(pc.Scores(&xs[1], 1, none, after), Error);
  pc.GetState(1, after);
  EXPECT_EQ(before[0], after[0]);
  EXPECT_EQ(before[1], after[1]);
  EXPECT_NEAR(before[0], lstm_h[0], 1e-6);
  // Feed-forward policies have no state; a core with wrong sizes is refused.
  Policy ff(SmallCategorical());
  EXPECT_FALSE(ff.recurrent());
  EXPECT_EQ(ff.state_size(), 0);
  Model bad = OneUnitCore(RnnKind::kLstm);
  bad.rnn[1].out = 3, bad.rnn[1].weight.resize(3), bad.rnn[1].bias.resize(3);
  EXPECT_THROW(bad.Validate(), Error);
  bad = OneUnitCore(RnnKind::kGru);
  bad.rnn.pop_back();
  EXPECT_THROW(bad.Validate(), Error);
}

TEST(RuntimeTest, TanhIsWithinFourTenMillionthsOfStdTanh) {
  // One identity layer with tanh over 2,001 inputs in [-10, 10].
  Model m;
  m.obs_kind = ObsKind::kBox, m.obs_shape = {1};
  m.policy = {Linear(1, 1, {1}, {0}, Activation::kTanh)};
  m.head = HeadKind::kCategorical, m.num_actions = 1;
  Policy p(m);
  std::vector<float> x(2001), y(2001);
  for (int i = 0; i <= 2000; ++i) x[i] = -10.0f + 0.01f * static_cast<float>(i);
  x[1000] = 1e-5f;  // the small-input branch
  p.Outputs(x.data(), 2001, y.data());
  double worst = 0;
  for (int i = 0; i <= 2000; ++i) worst = std::max(worst, std::abs(y[i] - std::tanh(static_cast<double>(x[i]))));
  EXPECT_LT(worst, 4e-7);
  EXPECT_FLOAT_EQ(y[1000], 1e-5f);
}

TEST(RuntimeTest, PreprocessingOneHotNormalizationAndImages) {
  // Discrete(3, start=2) -> one-hot -> identity linear 3->3.
  Model d;
  d.obs_kind = ObsKind::kDiscrete, d.obs_n = 3, d.obs_start = 2;
  d.policy = {Linear(3, 3, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0})};
  d.head = HeadKind::kCategorical, d.num_actions = 3;
  Policy pd(d);
  const float o = 3;
  EXPECT_EQ(pd.Act(&o), 1);
  const float bad = 5;
  EXPECT_THROW(pd.Act(&bad), Error);
  // Normalization: (x - mean) / sqrt(var + eps), clipped to +-clip.
  Model n;
  n.obs_kind = ObsKind::kBox, n.obs_shape = {2};
  n.obs_mean = {1, -1}, n.obs_var = {4, 0.25f}, n.obs_clip = 3;
  n.policy = {Linear(2, 2, {1, 0, 0, 1}, {0, 0})};
  n.head = HeadKind::kCategorical, n.num_actions = 2;
  Policy pn(n);
  const float x[] = {5, 10};
  float y[2];
  pn.Outputs(x, 1, y);
  EXPECT_NEAR(y[0], 4 / std::sqrt(4 + 1e-8), 1e-6);
  EXPECT_FLOAT_EQ(y[1], 3.0f);  // 22 clipped
  // An [H, W, C] image of 2x3x2 moves to [C, H, W] and is scaled by 1/255:
  // a 1x1 conv with weights (1, 0) keeps channel 0.
  Model im;
  im.obs_kind = ObsKind::kImage, im.obs_shape = {2, 3, 2}, im.channels_last = true;
  Layer conv;
  conv.kind = LayerKind::kConv2d, conv.in = 2, conv.out = 1, conv.kernel = 1, conv.stride = 1, conv.in_h = 2,
  conv.in_w = 3, conv.weight = {1, 0}, conv.bias = {0};
  im.encoder = {conv};
  im.policy = {Linear(6, 6, std::vector<float>(36, 0), {0, 0, 0, 0, 0, 0})};
  for (int i = 0; i < 6; ++i) im.policy[0].weight[i * 7] = 1;
  im.head = HeadKind::kCategorical, im.num_actions = 6;
  Policy pi(im);
  float px[12], out[6];
  for (int i = 0; i < 12; ++i) px[i] = static_cast<float>(i * 10);  // channel 0 at even indices
  pi.Outputs(px, 1, out);
  for (int p = 0; p < 6; ++p) EXPECT_FLOAT_EQ(out[p], static_cast<float>(p * 20) / 255.0f);
}

TEST(RuntimeTest, ConvolutionWithStrideMatchesHandComputation) {
  // One 4x4 channel, a 2x2 kernel of ones with stride 2: sums of the four
  // 2x2 blocks, plus bias 1, then ReLU.
  Model m;
  m.obs_kind = ObsKind::kImage, m.obs_shape = {1, 4, 4};
  Layer conv;
  conv.kind = LayerKind::kConv2d, conv.activation = Activation::kRelu, conv.in = 1, conv.out = 1, conv.kernel = 2,
  conv.stride = 2, conv.in_h = 4, conv.in_w = 4, conv.weight = {1, 1, 1, 1}, conv.bias = {1};
  m.encoder = {conv};
  m.policy = {Linear(4, 4, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, {0, 0, 0, 0})};
  m.head = HeadKind::kCategorical, m.num_actions = 4;
  Policy p(m);
  float px[16], out[4];
  for (int i = 0; i < 16; ++i) px[i] = 255.0f * static_cast<float>(i);
  p.Outputs(px, 1, out);
  // Blocks: (0+1+4+5), (2+3+6+7), (8+9+12+13), (10+11+14+15).
  EXPECT_FLOAT_EQ(out[0], 11.0f);
  EXPECT_FLOAT_EQ(out[1], 19.0f);
  EXPECT_FLOAT_EQ(out[2], 43.0f);
  EXPECT_FLOAT_EQ(out[3], 51.0f);
}

TEST(RuntimeTest, HeadsQValuesDuelingQuantilesGaussianMultiDiscrete) {
  Model q;
  q.obs_kind = ObsKind::kBox, q.obs_shape = {1};
  q.head = HeadKind::kQValues, q.num_actions = 2, q.dueling = true;
  q.policy = {Linear(1, 3, {1, 2, -1}, {0, 0, 0})};  // v = x, a = (2x, -x)
  Policy pq(q);
  const float x = 2;
  float s[2];
  pq.Scores(&x, 1, nullptr, s);  // q = v + a - mean(a) = 2 + (4, -2) - 1
  EXPECT_FLOAT_EQ(s[0], 5.0f);
  EXPECT_FLOAT_EQ(s[1], -1.0f);
  const uint8_t only1[] = {0, 1};
  EXPECT_EQ(pq.Act(&x, only1), 1);
  // Quantiles: Q(a) = the mean of its quantiles.
  q.dueling = false, q.quantiles = 2;
  q.policy = {Linear(1, 4, {1, 3, 2, 4}, {0, 0, 0, 0})};
  Policy pqr(q);
  pqr.Scores(&x, 1, nullptr, s);
  EXPECT_FLOAT_EQ(s[0], 4.0f);
  EXPECT_FLOAT_EQ(s[1], 6.0f);
  EXPECT_EQ(pqr.Act(&x), 1);
  // Gaussian: the mean clipped to [low, high]; samples mean + exp(log_std) z.
  Model g;
  g.obs_kind = ObsKind::kBox, g.obs_shape = {1};
  g.head = HeadKind::kGaussian, g.log_std = {std::log(0.5f), 0}, g.low = {-10, -1}, g.high = {10, 1};
  g.policy = {Linear(1, 2, {0.25f, 1}, {0, 0})};
  Policy pg(g);
  float a[2];
  pg.Act(&x, 1, a);
  EXPECT_FLOAT_EQ(a[0], 0.5f);
  EXPECT_FLOAT_EQ(a[1], 1.0f);  // 2 clipped
  EXPECT_THROW(pg.Act(&x), Error);
  double sum = 0, sq = 0;
  const float zero = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    pg.Act(&zero, 1, a, false);
    sum += a[0], sq += a[0] * a[0];
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(sq / n), 0.5, 0.02);
  // MultiDiscrete (2, 3): per-dimension argmax, masks per dimension, and a
  // conditional mask that forbids value 2 of dimension 1 after value 1.
  Model md;
  md.obs_kind = ObsKind::kBox, md.obs_shape = {1};
  md.head = HeadKind::kMultiCategorical, md.nvec = {2, 3};
  md.policy = {Linear(1, 5, {0, 1, 0, 0, 1}, {0, 0, 0, 0, 0})};
  Policy pm(md);
  int64_t act[2];
  pm.Act(&x, 1, nullptr, act);
  EXPECT_EQ(act[0], 1);
  EXPECT_EQ(act[1], 2);
  const uint8_t m2[] = {1, 1, 1, 1, 0};
  pm.Act(&x, 1, m2, act);
  EXPECT_EQ(act[1], 0);
  pm.set_conditional_mask([](int64_t, const int64_t* prefix, int dim, uint8_t* mask) {
    for (int j = 0; j < (dim == 0 ? 2 : 3); ++j) mask[j] = 1;
    if (dim == 1 && prefix[0] == 1) mask[2] = 0;
  });
  pm.Act(&x, 1, nullptr, act);
  EXPECT_EQ(act[0], 1);
  EXPECT_EQ(act[1], 0);
}

TEST(RuntimeTest, SeededSamplingFollowsTheSoftmaxAndRepeats) {
  Policy p(SmallCategorical());
  const float obs[] = {0.0f, -0.25f};  // h = relu(0.25, 0.5) = (0.25, 0.5): logits (0.25, 0.5, -9.25)
  float probs[3];
  p.Scores(obs, 1, nullptr, probs);
  p.Seed(3);
  const int n = 40000;
  std::vector<int64_t> first;
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < n; ++i) {
    const int64_t a = p.Act(obs, nullptr, false);
    ++counts[a - 10];
    if (i < 100) first.push_back(a);
  }
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(counts[j] / static_cast<double>(n), probs[j], 0.01);
  p.Seed(3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(p.Act(obs, nullptr, false), first[i]);
}

TEST(RuntimeTest, NoAllocationPerCallOnceReserved) {
  Policy p(SmallCategorical());
  p.Reserve(16);
  std::vector<float> obs(32, 0.5f);
  std::vector<int64_t> actions(16);
  float values[16];
  const int64_t before = g_allocations.load();
  for (int i = 0; i < 100; ++i) {
    p.Act(obs.data(), 16, nullptr, actions.data(), i % 2 == 0);
    p.Act(obs.data());
    p.Values(obs.data(), 16, values);
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
}

TEST(RuntimeTest, FileRoundTripAndDamagedFiles) {
  Model m = SmallCategorical();
  m.obs_mean = {0.5f, 1}, m.obs_var = {2, 3};
  const std::string path = ::testing::TempDir() + "/small.rlf";
  Save(m, path);
  const Model back = Load(path);
  EXPECT_EQ(back.policy[0].weight, m.policy[0].weight);
  EXPECT_EQ(back.value[0].bias, m.value[0].bias);
  EXPECT_EQ(back.obs_var, m.obs_var);
  EXPECT_EQ(back.action_start, 10);
  EXPECT_EQ(back.Describe(), m.Describe());
  std::ifstream f(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto expect_error = [](const std::string& b, const std::string& what) {
    try {
      Parse(b, "x.rlf");
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  // Every single-byte flip is refused: by the checksum, or (in the first 16
  // bytes) by the magic, version or size checks.
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string b = bytes;
    b[i] = static_cast<char>(b[i] ^ 0x40);
    EXPECT_THROW(Parse(b, "x.rlf"), Error) << "byte " << i;
  }
  expect_error(bytes.substr(0, bytes.size() / 2), "truncated");
  expect_error(bytes.substr(0, 8), "truncated (8 bytes)");  // the magic alone was "not an rlforge model"
  expect_error("not a model at all, just text", "not an rlforge model");
  std::string v3 = bytes;
  v3[8] = 3;
  expect_error(v3, "format version 3");
  std::string mid = bytes;
  mid[bytes.size() / 2] ^= 1;
  expect_error(mid, "damaged");
  EXPECT_THROW(Load(::testing::TempDir() + "/missing.rlf"), Error);
  // A directory and an endless device are one-line Errors too (a game that
  // catches runtime::Error must not abort or hang on them).
  for (const std::string& odd : {::testing::TempDir(), std::string("/dev/zero")}) {
    try {
      Load(odd);
      ADD_FAILURE() << odd;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  // A NaN weight or an absurd action start (a file edited with a valid CRC)
  // is refused when the model is built.
  {
    Model nan_weight = SmallCategorical();
    nan_weight.policy[0].weight[0] = std::nanf("");
    EXPECT_THROW(Policy{nan_weight}, Error);
    Model far = SmallCategorical();
    far.action_start = int64_t{1} << 62;
    EXPECT_THROW(Policy{far}, Error);
  }
  // Non-finite observations are refused, not acted on.
  {
    Policy p(SmallCategorical());
    std::vector<float> obs(static_cast<size_t>(p.model().obs_size()), 0.0f);
    obs[1] = std::nanf("");
    int64_t action = -1;
    EXPECT_THROW(p.Act(obs.data(), 1, nullptr, &action, true), Error);
    obs[1] = INFINITY;
    EXPECT_THROW(p.Act(obs.data(), 1, nullptr, &action, true), Error);
  }
  // Values a valid checksum can carry but no export writes (a file edited
  // and re-summed) are refused when the model is built, named: a negative
  // normalization eps or variance made every observation NaN, and swapped
  // Gaussian bounds clamped every action to one end.
  {
    auto refused = [](const Model& m, const std::string& what) {
      try {
        Policy p(m);
        ADD_FAILURE() << "built with " << what;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      }
    };
    Model eps = SmallCategorical();
    eps.obs_mean = {0, 0}, eps.obs_var = {1, 1}, eps.obs_eps = -1;
    refused(eps, "normalization eps must be a positive number, got -1");
    Model var = eps;
    var.obs_eps = 1e-8, var.obs_var = {1, -2};
    refused(var, "a normalization variance is -2 (negative)");
    Model clip = var;
    clip.obs_var = {1, 1}, clip.obs_clip = std::nan("");
    refused(clip, "normalization clip must be a positive number");
    Model g;
    g.obs_kind = ObsKind::kBox, g.obs_shape = {1};
    g.head = HeadKind::kGaussian, g.log_std = {0}, g.low = {2}, g.high = {-2};
    g.policy = {Linear(1, 1, {2}, {0})};
    refused(g, "action bounds of dimension 0 are [2, -2]");
    g.low = {std::nanf("")}, g.high = {1};
    refused(g, "action bounds of dimension 0");
  }
  // Save writes through a symbolic link and refuses a FIFO (its rename
  // replaced both with a regular file).
  {
    const std::string dir = ::testing::TempDir() + "/rlf_save_special";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    ASSERT_EQ(::mkfifo((dir + "/pipe").c_str(), 0644), 0);
    EXPECT_THROW(Save(m, dir + "/pipe"), Error);
    EXPECT_TRUE(std::filesystem::is_fifo(dir + "/pipe"));
    Save(SmallCategorical(), dir + "/model.rlf");
    std::filesystem::create_symlink("model.rlf", dir + "/link.rlf");
    Save(m, dir + "/link.rlf");
    EXPECT_TRUE(std::filesystem::is_symlink(dir + "/link.rlf"));
    EXPECT_EQ(Load(dir + "/model.rlf").Describe(), m.Describe());
  }
  // Inconsistent models are refused when built, named.
  Model bad = SmallCategorical();
  bad.policy[0].in = 3;
  try {
    Policy p(bad);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("policy layer 0"), std::string::npos) << e.what();
  }
}

TEST(RuntimeTest, MinMaxEncoderAndValueSupport) {
  // MuZero's pieces: the encoder's rows scaled to [0, 1]; the value decoded
  // from logits over -1..1 (bias only: softmax (1/4, 1/4, 1/2), expectation
  // 0.25) through h^-1, so that h(value) = 0.25.
  Model m;
  m.obs_kind = ObsKind::kBox, m.obs_shape = {2};
  m.encoder = {Linear(2, 2, {1, 0, 0, 1}, {0, 0})};
  m.encoder_minmax = true;
  m.policy = {Linear(2, 2, {1, 0, 0, 1}, {0, 0})};
  m.value = {Linear(2, 3, std::vector<float>(6, 0.0f), {0, 0, std::log(2.0f)})};
  m.value_support = 1;
  m.head = HeadKind::kCategorical, m.num_actions = 2;
  Policy p(m);
  const float obs[] = {3, 1, -2, 5};
  float out[4];
  p.Outputs(obs, 2, out);
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[1], 0.0f);
  EXPECT_FLOAT_EQ(out[2], 0.0f);
  EXPECT_FLOAT_EQ(out[3], 1.0f);
  float v;
  p.Values(obs, 1, &v);
  const double h = std::sqrt(std::abs(v) + 1.0) - 1.0 + 0.001 * v;
  EXPECT_NEAR(h, 0.25, 1e-6);
  // Equal entries (span 0) stay finite: (x - lo) / 1e-5 = 0.
  const float flat[] = {2, 2};
  p.Outputs(flat, 1, out);
  EXPECT_EQ(out[0], 0.0f);
  // A value chain of the wrong width for the support is refused.
  m.value_support = 2;
  EXPECT_THROW(Policy{m}, Error);
}

TEST(RuntimeTest, HostileSizesAreRefusedNotOverflowed) {
  // Sizes whose sums or products wrap around int64 (a crafted file) must be
  // refused by Validate, not wrap into small buffers.
  auto refused = [](Model m, const std::string& what) {
    try {
      Policy p(std::move(m));
      ADD_FAILURE() << "accepted: " << what;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  };
  const int64_t huge = std::numeric_limits<int64_t>::max();
  Model md;
  md.obs_kind = ObsKind::kMultiDiscrete, md.obs_nvec = {huge, huge, 6};
  md.policy = {Linear(4, 2, std::vector<float>(8, 0), {0, 0})};
  md.head = HeadKind::kCategorical, md.num_actions = 2;
  refused(md, "MultiDiscrete observation sizes summing past int64");
  Model q = SmallCategorical();
  q.head = HeadKind::kQValues, q.num_actions = 3, q.quantiles = 6148914691236517206;
  q.policy = {Linear(2, 2, {1, 0, 0, 1}, {0, 0})};
  refused(q, "quantiles whose product with n wraps to 2");
  Model mc = SmallCategorical();
  mc.head = HeadKind::kMultiCategorical, mc.nvec = {huge, huge, 4};
  refused(mc, "nvec summing past int64");
  Model conv;
  conv.obs_kind = ObsKind::kImage, conv.obs_shape = {1, 4096, 4096};
  Layer c;
  c.kind = LayerKind::kConv2d, c.in = 1, c.out = 2, c.kernel = 16, c.stride = 1, c.in_h = 4096, c.in_w = 4096;
  c.weight.assign(512, 0.0f), c.bias = {0, 0};
  conv.encoder = {c};
  conv.policy = {Linear(2 * 4081 * 4081, 1, {}, {0})};
  conv.head = HeadKind::kCategorical, conv.num_actions = 1;
  refused(conv, "a 17 GB im2col buffer");
  Model shape = SmallCategorical();
  shape.obs_shape = {huge, huge};
  refused(shape, "an observation shape whose product wraps");
}

TEST(RuntimeTest, CopiesShareNothingAndInfiniteBoundsSurviveTheFile) {
  std::optional<Policy> original(std::in_place, SmallCategorical());
  const float obs[] = {3, 1};
  float want[3];
  original->Outputs(obs, 1, want);
  Policy copy = *original;
  original.reset();  // the copy must not point into it
  float got[3];
  copy.Outputs(obs, 1, got);
  for (int j = 0; j < 3; ++j) EXPECT_EQ(got[j], want[j]);
  // A Gaussian policy over an unbounded Box: +-inf bounds round-trip.
  Model g;
  g.obs_kind = ObsKind::kBox, g.obs_shape = {1};
  g.head = HeadKind::kGaussian, g.log_std = {0}, g.low = {-INFINITY}, g.high = {INFINITY};
  g.policy = {Linear(1, 1, {2}, {0})};
  const Model back = Parse(Serialize(g));
  EXPECT_EQ(back.low[0], -INFINITY);
  EXPECT_EQ(back.high[0], INFINITY);
  Policy p(back);
  const float x = 1e30f;
  float a;
  p.Act(&x, 1, &a);
  EXPECT_EQ(a, 2e30f);
}

TEST(RuntimeTest, Int8WeightsStayWithinHalfAStep) {
  Model m = SmallCategorical();
  m.shared[0].weight = {0.3f, -1.27f, 0.01f, 0.5f};
  Model q = m;
  Quantize(&q);
  ASSERT_TRUE(q.shared[0].quantized());
  EXPECT_FALSE(q.policy[0].quantized());  // output layers stay float
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 2; ++i) {
      const float w = m.shared[0].weight[o * 2 + i];
      const float back = q.shared[0].qweight[o * 2 + i] * q.shared[0].qscale[o];
      EXPECT_LE(std::abs(w - back), q.shared[0].qscale[o] / 2 + 1e-7);
    }
  EXPECT_FLOAT_EQ(q.shared[0].qscale[0], 1.27f / 127);
  // And survives the file.
  const std::string path = ::testing::TempDir() + "/q.rlf";
  Save(q, path);
  EXPECT_EQ(Load(path).shared[0].qweight, q.shared[0].qweight);
}

}  // namespace
}  // namespace rlforge::runtime
