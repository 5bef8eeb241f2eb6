// The policy server on loopback: each test starts its own server on a free
// port and stops it. Served actions equal the runtime's in-process actions;
// batches form; a full queue answers 503 and a missed deadline 504; models
// reload when their file changes; bad requests get one-line errors and the
// server keeps serving.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "rlforge/runtime/policy.h"
#include "rlforge/serve/server.h"

namespace rlforge::serve {
namespace {

using Json = nlohmann::json;

// A random MLP policy over 6 observations: categorical over 5 actions
// (start 2) with a value head; or a Gaussian over 2.
runtime::Model RandomModel(uint64_t seed, bool gaussian = false) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> n(0.0f, 0.7f);
  auto linear = [&](int64_t in, int64_t out, runtime::Activation a) {
    runtime::Layer l;
    l.in = in, l.out = out, l.activation = a;
    for (int64_t i = 0; i < in * out; ++i) l.weight.push_back(n(rng));
    for (int64_t i = 0; i < out; ++i) l.bias.push_back(n(rng));
    return l;
  };
  runtime::Model m;
  m.algo = "test", m.env = "Random-v0";
  m.obs_kind = runtime::ObsKind::kBox, m.obs_shape = {6};
  m.shared = {linear(6, 16, runtime::Activation::kTanh)};
  if (gaussian) {
    m.policy = {linear(16, 2, runtime::Activation::kNone)};
    m.head = runtime::HeadKind::kGaussian, m.log_std = {-0.5f, 0.0f}, m.low = {-1, -1}, m.high = {1, 1};
  } else {
    m.policy = {linear(16, 5, runtime::Activation::kNone)};
    m.head = runtime::HeadKind::kCategorical, m.num_actions = 5, m.action_start = 2, m.action_mask = true;
  }
  m.value = {linear(16, 1, runtime::Activation::kNone)};
  return m;
}

// RandomModel with an LSTM core (6 -> 8) before its shared layer.
runtime::Model RandomRecurrentModel(uint64_t seed) {
  runtime::Model m = RandomModel(seed);
  std::mt19937 rng(static_cast<uint32_t>(seed + 100));
  std::normal_distribution<float> n(0.0f, 0.5f);
  auto linear = [&](int64_t in, int64_t out) {
    runtime::Layer l;
    l.in = in, l.out = out;
    for (int64_t i = 0; i < in * out; ++i) l.weight.push_back(n(rng));
    for (int64_t i = 0; i < out; ++i) l.bias.push_back(n(rng));
    return l;
  };
  m.rnn_kind = runtime::RnnKind::kLstm, m.rnn_hidden = 8;
  m.rnn = {linear(6, 32), linear(8, 32)};
  m.shared = {linear(8, 16)};
  m.shared[0].activation = runtime::Activation::kTanh;
  return m;
}

std::vector<float> Observations(int64_t n, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> u(-2, 2);
  std::vector<float> o(static_cast<size_t>(n * 6));
  for (auto& v : o) v = u(rng);
  return o;
}

ModelSource Fixed(const std::string& name, runtime::Model m) {
  ModelSource s;
  s.name = name, s.path = "(memory)";
  s.load = [m] { return m; };
  return s;
}

// An rlf file, reloaded when its modification time or size changes.
ModelSource FileSource(const std::string& name, const std::string& path) {
  ModelSource s;
  s.name = name, s.path = path;
  s.load = [path] { return runtime::Load(path); };
  s.stamp = [path] {
    return std::to_string(std::filesystem::last_write_time(path).time_since_epoch().count()) + ":" +
           std::to_string(std::filesystem::file_size(path));
  };
  return s;
}

ServerOptions Options() {
  ServerOptions o;
  o.port = 0;
  o.quiet = true;
  o.reload_poll_ms = 0;
  o.keep_alive_s = 1;  // Stop() waits for idle connections this long
  return o;
}

struct Client {
  explicit Client(int port) : c("127.0.0.1", port) {
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);
    c.set_read_timeout(10, 0);
  }
  std::pair<int, Json> Post(const std::string& path, const Json& body) {
    auto r = c.Post(path, body.dump(), "application/json");
    if (!r) return {-1, Json()};
    return {r->status, Json::parse(r->body, nullptr, false)};
  }
  httplib::Client c;
};

TEST(ServerTest, ServedActionsEqualInProcessActions) {
  const runtime::Model model = RandomModel(1), box = RandomModel(2, true);
  Server server({Fixed("cat", model), Fixed("box", box)}, Options());
  const int port = server.Start();
  Client client(port);
  runtime::Policy local(model), local_box(box);
  const int64_t n = 200;
  const auto obs = Observations(n, 7);
  // Greedy, a batch in JSON, with masks (every other row forbids action 2+0).
  Json rows = Json::array(), masks = Json::array();
  std::vector<uint8_t> flat_masks;
  for (int64_t i = 0; i < n; ++i) {
    rows.push_back(std::vector<float>(obs.begin() + i * 6, obs.begin() + (i + 1) * 6));
    std::vector<int> m = {i % 2 ? 0 : 1, 1, 1, 1, 1};
    masks.push_back(m);
    flat_masks.insert(flat_masks.end(), m.begin(), m.end());
  }
  auto [status, out] = client.Post("/v1/models/cat/act", {{"observations", rows}, {"masks", masks}, {"value", true}});
  ASSERT_EQ(status, 200) << out.dump();
  std::vector<int64_t> want(n);
  local.Act(obs.data(), n, flat_masks.data(), want.data());
  std::vector<float> values(n);
  local.Values(obs.data(), n, values.data());
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(out["actions"][i].get<int64_t>(), want[i]) << i;
    EXPECT_FLOAT_EQ(out["values"][i].get<float>(), values[i]);
  }
  // Sampled with a seed: exactly runtime::Policy::Seed(seed) then Act.
  auto [s2, sampled] = client.Post("/v1/models/cat/act", {{"observations", rows}, {"deterministic", false}, {"seed", 42}});
  ASSERT_EQ(s2, 200);
  local.Seed(42);
  local.Act(obs.data(), n, nullptr, want.data(), false);
  int64_t differ_from_greedy = 0;
  std::vector<int64_t> greedy(n);
  local.Act(obs.data(), n, nullptr, greedy.data());
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(sampled["actions"][i].get<int64_t>(), want[i]);
    differ_from_greedy += want[i] != greedy[i];
  }
  EXPECT_GT(differ_from_greedy, 0);  // sampling happened
  // The binary variant, single rows, and a Box policy.
  for (int64_t i = 0; i < 20; ++i) {
    std::string body(reinterpret_cast<const char*>(obs.data() + i * 6), 6 * sizeof(float));
    auto r = client.c.Post("/v1/models/cat/act?n=1", body, "application/octet-stream");
    ASSERT_TRUE(r && r->status == 200);
    ASSERT_EQ(r->body.size(), sizeof(int64_t));
    int64_t a;
    std::memcpy(&a, r->body.data(), sizeof(a));
    EXPECT_EQ(a, local.Act(obs.data() + i * 6));
    auto [s3, one] = client.Post("/v1/act", {{"model", "box"}, {"observation", rows[i]}});
    ASSERT_EQ(s3, 200) << one.dump();
    float box_action[2];
    local_box.Act(obs.data() + i * 6, 1, box_action);
    EXPECT_FLOAT_EQ(one["action"][0].get<float>(), box_action[0]);
    EXPECT_FLOAT_EQ(one["action"][1].get<float>(), box_action[1]);
  }
  server.Stop();
}

TEST(ServerTest, RecurrentModelsTakeAndGiveTheirState) {
  const runtime::Model model = RandomRecurrentModel(3);
  Server server({Fixed("lstm", model), Fixed("mlp", RandomModel(4))}, Options());
  const int port = server.Start();
  Client client(port);
  // Two agents stepped by the local runtime (rows 0 and 1 keep their states)
  // and by the server (each request carries them): agent 0 alone, one row
  // per request; both together, a batch of two with "states".
  runtime::Policy local(model);
  const int64_t T = 30;
  const auto obs = Observations(2 * T, 9);
  auto row = [&](int64_t t, int a) { return std::vector<float>(obs.begin() + (2 * t + a) * 6, obs.begin() + (2 * t + a + 1) * 6); };
  Json state0 = nullptr, states = nullptr;
  int64_t changed = 0, last = -1;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int64_t> want(2);
    local.Act(obs.data() + 2 * t * 6, 2, nullptr, want.data());
    auto [s1, one] = client.Post("/v1/models/lstm/act", {{"observation", row(t, 0)}, {"state", state0}});
    ASSERT_EQ(s1, 200) << one.dump();
    EXPECT_EQ(one["action"].get<int64_t>(), want[0]) << t;
    ASSERT_EQ(one["next_state"].size(), 16u);
    state0 = one["next_state"];
    auto [s2, two] = client.Post("/v1/models/lstm/act",
                                 {{"observations", {row(t, 0), row(t, 1)}}, {"states", states}, {"outputs", true}, {"value", true}});
    ASSERT_EQ(s2, 200) << two.dump();
    EXPECT_EQ(two["actions"][0].get<int64_t>(), want[0]) << t;
    EXPECT_EQ(two["actions"][1].get<int64_t>(), want[1]) << t;
    EXPECT_EQ(two["next_states"][0], state0) << "outputs and values must not step the state again";
    states = two["next_states"];
    changed += last >= 0 && want[0] != last;
    last = want[0];
  }
  std::vector<float> local_state(32);
  local.GetState(2, local_state.data());
  for (int64_t i = 0; i < 16; ++i) {
    EXPECT_FLOAT_EQ(states[0][i].get<float>(), local_state[i]);
    EXPECT_FLOAT_EQ(states[1][i].get<float>(), local_state[16 + i]);
  }
  EXPECT_GT(changed, 0);  // the actions depend on the steps, not a constant
  // Bad state requests, one line each, and the server goes on.
  auto expect_400 = [&](const Json& body, const std::string& what, const std::string& path = "/v1/models/lstm/act") {
    auto [status, out] = client.Post(path, body);
    EXPECT_EQ(status, 400) << body.dump();
    EXPECT_NE(out["error"].get<std::string>().find(what), std::string::npos) << out.dump();
  };
  expect_400({{"observation", row(0, 0)}, {"state", std::vector<float>(15, 0.0f)}}, "keeps 16");
  expect_400({{"observation", row(0, 0)}, {"state", {"a"}}}, "state values must be numbers");
  expect_400({{"observation", row(0, 0)}, {"states", {std::vector<float>(16, 0.0f)}}}, "takes \"state\"");
  expect_400({{"observations", {row(0, 0)}}, {"states", Json::array()}}, "one state (or null) per observation");
  expect_400({{"observation", row(0, 0)}, {"state", std::vector<float>(16, 0.0f)}}, "not recurrent", "/v1/models/mlp/act");
  std::string body(reinterpret_cast<const char*>(obs.data()), 6 * sizeof(float));
  auto r = client.c.Post("/v1/models/lstm/act?n=1", body, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("recurrent"), std::string::npos) << r->body;
  auto models = client.c.Get("/v1/models");
  ASSERT_TRUE(models && models->status == 200);
  EXPECT_EQ(Json::parse(models->body)["models"][0]["model"]["core"]["state_size"], 16);
  server.Stop();
}

TEST(ServerTest, ConcurrentRequestsAreBatched) {
  ServerOptions o = Options();
  o.max_batch = 8;
  o.max_delay_us = 200000;  // long enough for 8 clients to arrive
  Server server({Fixed("m", RandomModel(3))}, o);
  const int port = server.Start();
  const auto obs = Observations(8, 9);
  std::vector<std::future<int>> results;
  for (int c = 0; c < 8; ++c)
    results.push_back(std::async(std::launch::async, [&, c] {
      Client client(port);
      return client.Post("/v1/act", {{"observation", std::vector<float>(obs.begin() + c * 6, obs.begin() + c * 6 + 6)}}).first;
    }));
  for (auto& r : results) EXPECT_EQ(r.get(), 200);
  const std::string metrics = server.MetricsText();
  // Eight rows in fewer than eight batches (one, unless a client was late).
  const auto at = metrics.find("rlforge_batches_total{model=\"m\"} ");
  ASSERT_NE(at, std::string::npos) << metrics;
  const int batches = std::stoi(metrics.substr(at + std::strlen("rlforge_batches_total{model=\"m\"} ")));
  EXPECT_LT(batches, 8);
  EXPECT_NE(metrics.find("rlforge_rows_total{model=\"m\"} 8"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("rlforge_request_seconds{model=\"m\",quantile=\"0.99\"}"), std::string::npos);
  server.Stop();
}

TEST(ServerTest, FullQueueAnswers503AndMissedDeadline504) {
  ServerOptions o = Options();
  o.max_batch = 64;
  o.max_delay_us = 3000000;  // requests wait in the queue
  o.max_queue = 2;
  Server server({Fixed("m", RandomModel(4))}, o);
  const int port = server.Start();
  const std::vector<float> one(6, 0.5f);
  const auto t0 = std::chrono::steady_clock::now();
  // Two rows fill the queue (each waits for its deadline of 300 ms: 504).
  std::vector<std::future<int>> waiting;
  for (int c = 0; c < 2; ++c)
    waiting.push_back(std::async(std::launch::async, [&] {
      Client client(port);
      return client.Post("/v1/act", {{"observation", one}, {"deadline_ms", 300}}).first;
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Client client(port);
  auto [status, body] = client.Post("/v1/act", {{"observation", one}});
  EXPECT_EQ(status, 503) << body.dump();
  EXPECT_NE(body["error"].get<std::string>().find("queue of 2 rows full"), std::string::npos) << body.dump();
  for (auto& w : waiting) EXPECT_EQ(w.get(), 504);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  server.Stop();
}

TEST(ServerTest, HotReloadSwapsTheModelAndKeepsServingOnABrokenFile) {
  const std::string path = ::testing::TempDir() + "/serve_reload_" + std::to_string(::getpid()) + ".rlf";
  runtime::Save(RandomModel(5), path);
  const ModelSource s = FileSource("m", path);
  ServerOptions o = Options();
  o.reload_poll_ms = 20;
  o.max_delay_us = 0;
  Server server({s}, o);
  const int port = server.Start();
  Client client(port);
  const auto obs = Observations(50, 11);
  Json rows = Json::array();
  for (int i = 0; i < 50; ++i) rows.push_back(std::vector<float>(obs.begin() + i * 6, obs.begin() + i * 6 + 6));
  auto [s1, before] = client.Post("/v1/act", {{"observations", rows}});
  ASSERT_EQ(s1, 200);
  EXPECT_EQ(before["version"], 1);
  // A new model, written beside and renamed over (what runtime::Save does).
  const runtime::Model next = RandomModel(6);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  runtime::Save(next, path);
  Json after;
  for (int i = 0; i < 200 && (after.is_null() || after["version"] != 2); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = client.Post("/v1/act", {{"observations", rows}}).second;
  }
  ASSERT_EQ(after["version"], 2);
  runtime::Policy p(next);
  std::vector<int64_t> want(50);
  p.Act(obs.data(), 50, nullptr, want.data());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(after["actions"][i].get<int64_t>(), want[i]);
  // A damaged file is not loaded: version 2 goes on serving.
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << "RLFMODEL but nothing else";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto [s3, still] = client.Post("/v1/act", {{"observations", rows}});
  ASSERT_EQ(s3, 200);
  EXPECT_EQ(still["version"], 2);
  EXPECT_NE(server.MetricsText().find("rlforge_reload_failures_total{model=\"m\"} 1"), std::string::npos);
  server.Stop();
  std::filesystem::remove(path);
}

// Sends `request` as it is (headers an HTTP client would not write) and
// returns what the server answers before it closes or 5 s pass.
std::string RawRequest(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

TEST(ServerTest, BadRequestsGetOneLineErrorsAndTheServerGoesOn) {
  ServerOptions o = Options();
  o.max_body_bytes = 4096;
  o.max_delay_us = 0;
  Server server({Fixed("a", RandomModel(7)), Fixed("b", RandomModel(8)), Fixed("g", RandomModel(9, true))}, o);
  const int port = server.Start();
  Client client(port);
  const std::vector<float> ok(6, 0.1f);
  const std::string obs = R"({"observation": [1, 2, 3, 4, 5, 6]})";
  struct Case {
    std::string path, body, content_type;
    int status;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"/v1/models/a/act", "{not json", "application/json", 400, "not valid JSON (at byte 3"},
      {"/v1/models/a/act", R"({"observation": [NaN, 2, 3, 4, 5, 6]})", "application/json", 400, "NaN, Infinity"},
      {"/v1/models/a/act", R"({"observation": [1e999, 2, 3, 4, 5, 6]})", "application/json", 400, "not valid JSON"},
      {"/v1/models/a/act", "[1, 2, 3, 4, 5, 6]", "application/json", 400, "must be a JSON object, got array"},
      {"/v1/models/a/act", R"({"observation": [1, 2, 3]})", "application/json", 400,
       "observation 0 has shape [3]; model 'a' takes 6 numbers"},
      {"/v1/models/a/act", R"({"observation": [[1, 2, 3], [4, 5, 6]]})", "application/json", 400,
       "observation 0 has shape [2, 3]; model 'a' takes 6 numbers (Random-v0)"},
      {"/v1/models/a/act", R"({"observations": [[1, 2, 3, 4, 5, 6], [[1, 2], [3, 4, 5, 6]]]})", "application/json",
       400, "observation 1 is a ragged list"},
      {"/v1/models/a/act", R"({"observation": [1, 2, 3, 4, 5, 6], "determinstic": false})", "application/json", 400,
       "unknown key \"determinstic\""},
      {"/v1/models/a/act", R"({"observations": [[1, 2, 3, 4, 5, 6]], "mask": [0, 1, 1, 1, 1]})", "application/json",
       400, "a list of observations takes \"masks\", not \"mask\""},
      {"/v1/models/a/act", R"({"observation": [1, 2, 3, 4, 5, 6], "masks": [[0, 1, 1, 1, 1]]})", "application/json",
       400, "one observation takes \"mask\", not \"masks\""},
      {"/v1/models/a/act", R"({"observation": [1, 2, 3, "x", 5, 6]})", "application/json", 400, "must be numbers"},
      {"/v1/models/a/act", R"({"observation": [1, 2, 3, 4, 5, 6], "mask": [0, 0, 0, 0, 0]})", "application/json", 400,
       "leaves no legal action"},
      {"/v1/models/a/act", R"({"observation": [1, 2, 3, 4, 5, 6], "mask": [1, 0, 2, 0, 0]})", "application/json", 400,
       "mask values must be 0/1"},
      {"/v1/models/a/act", R"({"observation": [1, 2, 3, 4, 5, 6], "deterministic": "yes"})", "application/json", 400,
       "must be true or false"},
      {"/v1/models/a/act", R"({"observations": []})", "application/json", 400, "1 to 65536"},
      {"/v1/models/a/act", R"({"observation": [1, 2, 3, 4, 5, 6], "observations": [[1, 2, 3, 4, 5, 6]]})",
       "application/json", 400, "either"},
      {"/v1/models/nope/act", R"({"observation": [1, 2, 3, 4, 5, 6]})", "application/json", 404, "unknown model 'nope'"},
      {"/v1/act", R"({"observation": [1, 2, 3, 4, 5, 6]})", "application/json", 400, "several models are served"},
      {"/v1/models/a/act?n=2", std::string(12, 'x'), "application/octet-stream", 400, "binary body of 12 bytes"},
      {"/v1/models/a/act?n=zero", std::string(24, 'x'), "application/octet-stream", 400,
       "query parameter 'n' must be an integer in 1..65536, got 'zero'"},
      {"/v1/models/a/act?n=0", std::string(24, 'x'), "application/octet-stream", 400,
       "query parameter 'n' must be an integer in 1..65536, got '0'"},
      {"/v1/models/a/act?deterministic=maybe", std::string(24, '\0'), "application/octet-stream", 400,
       "query parameter 'deterministic' must be 0 or 1"},
      {"/v1/models/a/act?seed=-3", std::string(24, '\0'), "application/octet-stream", 400,
       "query parameter 'seed' must be an integer"},
      {"/v1/models/a/act?seed=1.5", std::string(24, '\0'), "application/octet-stream", 400,
       "query parameter 'seed' must be an integer"},
      {"/v1/models/a/act?seed=18446744073709551616", std::string(24, '\0'), "application/octet-stream", 400,
       "query parameter 'seed' must be an integer"},
      {"/v1/models/a/act?bogus=1", std::string(24, '\0'), "application/octet-stream", 400,
       "unknown query parameter 'bogus'"},
      {"/v1/models/a/act", std::string(8192, ' '), "application/json", 413, "too large"},
      {"/v1/frobnicate", "{}", "application/json", 404, "no such endpoint (POST /v1/act or /v1/models/NAME/act"},
      // Query parameters of JSON requests were ignored (?deterministic=banana answered 200).
      {"/v1/models/a/act?deterministic=banana", obs, "application/json", 400,
       "unknown query parameter 'deterministic' (JSON requests take model; the rest goes in the body)"},
      {"/v1/models/a/act?model=b", obs, "application/json", 400, "query parameter 'model' differs"},
      {"/v1/models/a/act?model=b", std::string(24, '\0'), "application/octet-stream", 400,
       "query parameter 'model' differs"},
      {"/v1/act?model=nope", obs, "application/json", 404, "unknown model 'nope'"},
      // A mask for actions that take none: refused in binary as in JSON.
      {"/v1/models/g/act?masks=1", std::string(24, '\0'), "application/octet-stream", 400,
       "this model's actions take no mask"},
      {"/v1/models/g/act", R"({"observation": [1, 2, 3, 4, 5, 6], "mask": [1, 1]})", "application/json", 400,
       "this model's actions take no mask"},
      // curl -d's form type: httplib refuses forms over 8 KiB; the error says what to send instead.
      {"/v1/models/a/act", std::string(9000, ' '), "application/x-www-form-urlencoded", 413,
       "may hold at most 8192 bytes; send JSON as application/json (curl --json"},
  };
  for (const auto& c : cases) {
    auto r = client.c.Post(c.path, c.body, c.content_type);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, c.status) << c.path << " " << c.body << ": " << r->body;
    const Json j = Json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
    const std::string error = j["error"].get<std::string>();
    EXPECT_NE(error.find(c.needle), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
  // NaN in a binary body.
  std::vector<float> nan_row = ok;
  nan_row[2] = std::nanf("");
  auto r = client.c.Post("/v1/models/a/act", std::string(reinterpret_cast<const char*>(nan_row.data()), 24),
                         "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  // Binary bodies are told by their media type, parameters aside; and
  // deterministic=false is greedy as deterministic=0 is... not: it samples.
  const std::string zeros(24, '\0');
  for (const char* type : {"application/octet-stream; charset=binary", "Application/Octet-Stream"}) {
    auto b = client.c.Post("/v1/models/a/act?seed=18446744073709551615", zeros, type);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 200) << type << ": " << b->body;
    EXPECT_EQ(b->body.size(), sizeof(int64_t)) << type;
  }
  // 64 rows, sampled with deterministic=false and with =0: the same actions
  // (one seed), and not all greedy.
  const std::string rows64(64 * 24, '\0');
  auto s0 = client.c.Post("/v1/models/a/act?n=64&deterministic=0&seed=3", rows64, "application/octet-stream");
  auto sf = client.c.Post("/v1/models/a/act?n=64&deterministic=false&seed=3", rows64, "application/octet-stream");
  auto g = client.c.Post("/v1/models/a/act?n=64&deterministic=true", rows64, "application/octet-stream");
  ASSERT_TRUE(s0 && sf && g);
  ASSERT_EQ(s0->status, 200);
  EXPECT_EQ(s0->body, sf->body);
  EXPECT_NE(s0->body, g->body);
  // And it still serves; the model given as ?model= as well, and a small
  // JSON body sent as a form (curl -d) too.
  auto [status, out] = client.Post("/v1/models/b/act", {{"observation", ok}});
  EXPECT_EQ(status, 200) << out.dump();
  for (const auto& [path, type] : {std::pair<const char*, const char*>{"/v1/act?model=b", "application/json"},
                                   {"/v1/act?mod%65l=b", "application/json"},  // keys are percent-decoded
                                   {"/v1/models/b/act?model=b", "application/json"},
                                   {"/v1/models/b/act", "application/x-www-form-urlencoded"}}) {
    auto a = client.c.Post(path, obs, type);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 200) << path << " " << type << ": " << a->body;
    EXPECT_EQ(Json::parse(a->body)["model"], "b") << a->body;
  }
  // Two Content-Length headers (a request smuggler's trick) or one beside a
  // Transfer-Encoding: 400, not the first length's answer.
  for (const std::string& headers : {std::string("Content-Length: 37\r\nContent-Length: 3\r\n"),
                                     std::string("Content-Length: 37\r\nTransfer-Encoding: chunked\r\n")}) {
    const std::string answer = RawRequest(
        port, "POST /v1/models/b/act HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + "\r\n" + obs);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("exactly one Content-Length and no Transfer-Encoding"), std::string::npos) << answer;
  }
  EXPECT_EQ(client.c.Get("/healthz")->body, "ok\n");
  auto models = Json::parse(client.c.Get("/v1/models")->body);
  EXPECT_EQ(models["models"].size(), 3u);
  // Prometheus' text format: a family's HELP and TYPE once, right before all
  // of its samples (every model's); every sample in a family so announced.
  const std::string metrics = client.c.Get("/metrics")->body;
  std::stringstream lines(metrics);
  std::string family;
  std::set<std::string> announced;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(announced.insert(family).second) << "twice: " << family;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_EQ(line.substr(7, line.find(' ', 7) - 7), family) << line;
      continue;
    }
    const std::string metric = line.substr(0, line.find_first_of("{ "));
    EXPECT_TRUE(metric == family || metric == family + "_bucket" || metric == family + "_sum" ||
                metric == family + "_count")
        << line << " under " << family;
  }
  for (const char* f : {"rlforge_requests_total", "rlforge_rows_total", "rlforge_batches_total", "rlforge_batch_size",
                        "rlforge_queue_rows", "rlforge_model_version", "rlforge_reloads_total",
                        "rlforge_reload_failures_total", "rlforge_queue_seconds", "rlforge_request_seconds"})
    EXPECT_EQ(announced.count(f), 1u) << f << " has no HELP\n" << metrics;
  EXPECT_EQ(models["models"][0]["model"]["observation"]["size"], 6);
  server.Stop();
}

TEST(ServerTest, HostileRequestsAreRefusedAlone) {
  ServerOptions o = Options();
  o.max_queue = 8;
  o.max_delay_us = 0;
  runtime::Model discrete = RandomModel(10);
  discrete.obs_kind = runtime::ObsKind::kDiscrete, discrete.obs_shape = {}, discrete.obs_n = 6, discrete.obs_start = 0;
  Server server({Fixed("m", RandomModel(10)), Fixed("d", discrete)}, o);
  const int port = server.Start();
  Client client(port);
  // 200,000 nested lists: refused before the parsed value is ever copied.
  const std::string deep = "{\"observation\": " + std::string(200000, '[') + "0" + std::string(200000, ']') + "}";
  auto r = client.c.Post("/v1/models/m/act", deep, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("nested too deeply"), std::string::npos) << r->body;
  // More rows than the queue holds can never be served: 413, not 503.
  Json rows = Json::array();
  for (int i = 0; i < 9; ++i) rows.push_back(std::vector<float>(6, 0.0f));
  auto [s1, b1] = client.Post("/v1/models/m/act", {{"observations", rows}});
  EXPECT_EQ(s1, 413) << b1.dump();
  // A chunked body (no Content-Length) is refused before it is read.
  Client other(port);
  auto chunked = other.c.Post(
      "/v1/models/m/act",
      [](size_t offset, httplib::DataSink& sink) {
        if (offset == 0) sink.write("{\"observation\": [0,0,0,0,0,0]}", 30);
        sink.done();
        return true;
      },
      "application/json");
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 411);
  // Discrete observations out of range, or not integers.
  for (const Json& bad : {Json(6), Json(-1), Json(2.5)}) {
    auto [s2, b2] = client.Post("/v1/models/d/act", {{"observation", bad}});
    EXPECT_EQ(s2, 400) << bad.dump();
    EXPECT_NE(b2["error"].get<std::string>().find("not an integer in [0, 6)"), std::string::npos) << b2.dump();
  }
  auto [s3, b3] = client.Post("/v1/models/d/act", {{"observation", 5}});
  EXPECT_EQ(s3, 200) << b3.dump();
  // A float32 overflow is not finite.
  auto [s4, b4] = client.Post("/v1/models/m/act", {{"observation", {1e39, 0, 0, 0, 0, 0}}});
  EXPECT_EQ(s4, 400) << b4.dump();
  server.Stop();
}

TEST(ServerTest, RequestsQueuedAcrossAReloadToOtherShapesAreAnswered503) {
  const std::string path = ::testing::TempDir() + "/serve_shape_" + std::to_string(::getpid()) + ".rlf";
  runtime::Save(RandomModel(12), path);
  const ModelSource s = FileSource("m", path);
  ServerOptions o = Options();
  o.reload_poll_ms = 10;
  o.max_batch = 64;
  o.max_delay_us = 600000;  // the request waits while the model changes
  Server server({s}, o);
  const int port = server.Start();
  auto queued = std::async(std::launch::async, [&] {
    Client client(port);
    return client.Post("/v1/act", {{"observation", std::vector<float>(6, 0.3f)}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // A recurrent network for the same spaces replaces the feed-forward one:
  // the queued request was read for a model without state.
  runtime::Save(RandomRecurrentModel(13), path);
  auto [status, body] = queued.get();
  EXPECT_EQ(status, 503) << body.dump();
  EXPECT_NE(body.value("error", "").find("reloaded"), std::string::npos) << body.dump();
  Client client(port);
  auto [s2, b2] = client.Post("/v1/act", {{"observation", std::vector<float>(6, 0.3f)}});
  EXPECT_EQ(s2, 200) << b2.dump();
  EXPECT_EQ(b2["version"], 2);
  server.Stop();
  std::filesystem::remove(path);
}

TEST(ServerTest, ReloadToAnotherEnvsSpacesIsRefused) {
  const std::string path = ::testing::TempDir() + "/serve_spaces_" + std::to_string(::getpid()) + ".rlf";
  runtime::Save(RandomModel(14), path);
  ServerOptions o = Options();
  o.reload_poll_ms = 10;
  o.max_delay_us = 0;
  Server server({FileSource("m", path)}, o);
  const int port = server.Start();
  // Another kind of network for the same spaces (Q-values instead of a
  // policy, as a DQN run's export replacing a PPO run's) is swapped in.
  runtime::Model q = RandomModel(19);
  q.head = runtime::HeadKind::kQValues;
  q.value.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  runtime::Save(q, path);
  Client first(port);
  Json v2;
  for (int i = 0; i < 300 && (v2.is_null() || v2["version"] != 2); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    v2 = first.Post("/v1/act", {{"observation", std::vector<float>(6, 0.3f)}}).second;
  }
  EXPECT_EQ(v2["version"], 2) << v2.dump();
  // A model over 3 observations and 2 actions (another env's) is written
  // over it: not swapped in; version 2 goes on serving.
  runtime::Model other = RandomModel(15);
  other.env = "Other-v0";
  other.obs_shape = {3};
  other.shared[0].in = 3;
  other.shared[0].weight.resize(3 * 16);
  other.policy[0].out = 2, other.policy[0].weight.resize(16 * 2), other.policy[0].bias.resize(2);
  other.num_actions = 2;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  runtime::Save(other, path);
  const std::string failed = "rlforge_reload_failures_total{model=\"m\"} 1";
  for (int i = 0; i < 300 && server.MetricsText().find(failed) == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(server.MetricsText().find(failed), std::string::npos) << server.MetricsText();
  Client client(port);
  auto [s1, b1] = client.Post("/v1/act", {{"observation", std::vector<float>(6, 0.3f)}});
  EXPECT_EQ(s1, 200) << b1.dump();
  EXPECT_EQ(b1["version"], 2);
  server.Stop();
  std::filesystem::remove(path);
}

TEST(ServerTest, ObservationsAreNestedAsTheModelsShapeOrFlat) {
  runtime::Model grid = RandomModel(16);
  grid.obs_shape = {2, 3};
  ServerOptions o = Options();
  o.max_delay_us = 0;
  Server server({Fixed("g", grid)}, o);
  Client client(server.Start());
  auto [s1, nested] = client.Post("/v1/act", {{"observation", {{1, 2, 3}, {4, 5, 6}}}});
  auto [s2, flat] = client.Post("/v1/act", {{"observation", {1, 2, 3, 4, 5, 6}}});
  ASSERT_EQ(s1, 200) << nested.dump();
  ASSERT_EQ(s2, 200) << flat.dump();
  EXPECT_EQ(nested["action"], flat["action"]);
  auto [s3, b3] = client.Post("/v1/act", {{"observation", {{1, 2}, {3, 4}, {5, 6}}}});
  EXPECT_EQ(s3, 400);
  EXPECT_NE(b3.value("error", "").find("has shape [3, 2]; model 'g' takes [2, 3] or a flat list of 6 numbers"),
            std::string::npos)
      << b3.dump();
  server.Stop();
}

TEST(ServerTest, APortInUseIsRefused) {
  Server first({Fixed("a", RandomModel(17))}, Options());
  const int port = first.Start();
  ServerOptions o = Options();
  o.port = port;
  Server second({Fixed("b", RandomModel(18))}, o);
  try {
    second.Start();
    ADD_FAILURE() << "a second server listens on port " << port;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on"), std::string::npos) << e.what();
  }
  first.Stop();
}

TEST(ServerTest, StopAnswersWhatIsQueued) {
  ServerOptions o = Options();
  o.max_delay_us = 5000000;
  o.max_batch = 64;
  Server server({Fixed("m", RandomModel(9))}, o);
  const int port = server.Start();
  auto pending = std::async(std::launch::async, [&] {
    Client client(port);
    return client.Post("/v1/act", {{"observation", std::vector<float>(6, 0.0f)}, {"deadline_ms", 10000}}).first;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const auto t0 = std::chrono::steady_clock::now();
  server.Stop();
  EXPECT_EQ(pending.get(), 503);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

}  // namespace
}  // namespace rlforge::serve
