#include "rlforge/serve/server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "rlforge/runtime/policy.h"
#include "rlforge/runtime/text.h"

namespace rlforge::serve {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using runtime::Cat;
using runtime::Printable;

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += Cat(i ? ", " : "", shape[i]);
  return out + "]";
}

// A model's observation and action spaces in words.
std::string ObservationText(const runtime::Model& m) {
  if (m.obs_kind == runtime::ObsKind::kDiscrete) return Cat("Discrete(", m.obs_n, ", start=", m.obs_start, ")");
  if (m.obs_kind == runtime::ObsKind::kMultiDiscrete) return Cat("MultiDiscrete(", ShapeText(m.obs_nvec), ")");
  return Cat(m.obs_kind == runtime::ObsKind::kImage ? "image " : "Box ", ShapeText(m.obs_shape));
}
std::string ActionText(const runtime::Model& m) {
  if (m.head == runtime::HeadKind::kGaussian) {
    std::string bounds;
    for (size_t i = 0; i < m.low.size(); ++i) bounds += Cat(i ? ", " : "", "[", m.low[i], ", ", m.high[i], "]");
    return Cat("Box(", bounds, ")");
  }
  if (!m.nvec.empty()) return Cat("MultiDiscrete(", ShapeText(m.nvec), ")");
  return Cat("Discrete(", m.num_actions, ", start=", m.action_start, ")");
}

// Why two models are not for the same env's spaces ("" when they are: the
// networks behind them may differ, even their kind).
std::string WhySpacesDiffer(const runtime::Model& now, const runtime::Model& next) {
  if (now.env != next.env) return Cat("it is a model of ", next.env, ", not of ", now.env);
  if (ObservationText(now) != ObservationText(next))
    return Cat("its observations are ", ObservationText(next), ", not ", ObservationText(now));
  if (ActionText(now) != ActionText(next)) return Cat("its actions are ", ActionText(next), ", not ", ActionText(now));
  if (now.mask_size() != next.mask_size())
    return Cat("its action masks have ", next.mask_size(), " values, not ", now.mask_size());
  return "";
}

// Whether two models take and give the same shapes (a request checked
// against one may run on the other after a reload).
bool SameInterface(const runtime::Model& a, const runtime::Model& b) {
  return a.obs_kind == b.obs_kind && a.obs_size() == b.obs_size() && a.obs_n == b.obs_n && a.obs_start == b.obs_start &&
         a.obs_nvec == b.obs_nvec && a.head == b.head && a.mask_size() == b.mask_size() &&
         a.action_size() == b.action_size() && a.has_value() == b.has_value() && a.num_actions == b.num_actions &&
         a.nvec == b.nvec && a.rnn_kind == b.rnn_kind && a.rnn_hidden == b.rnn_hidden &&
         a.rnn_layers() == b.rnn_layers();  // the core decides the state's size and layout
}

// The deepest nesting of JSON arrays/objects in text (strings skipped): the
// parser is iterative but copies of a parsed value are recursive.
int JsonDepth(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// A client error: the HTTP status and a one-line reason.
struct BadRequest {
  int status;
  std::string what;
};

// One request: its rows, options and (once answered) results.
struct Request {
  std::shared_ptr<const runtime::Model> model;  // the version the request was checked against
  int64_t n = 0;
  std::vector<float> obs;
  std::vector<uint8_t> masks;  // empty: all legal
  std::vector<float> state;    // recurrent models: [n, state_size]; empty: zeros (episodes start)
  bool deterministic = true, want_outputs = false, want_value = false;
  std::optional<uint64_t> seed;
  Clock::time_point arrived, deadline;
  std::atomic<bool> abandoned{false};
  // Results.
  std::vector<int64_t> actions_i;
  std::vector<float> actions_f, outputs, values, next_state;
  int status = 200;
  std::string error;
  int64_t version = 0;
  double queue_seconds = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;

  void Finish() {
    std::lock_guard<std::mutex> l(mu);
    done = true;
    cv.notify_all();
  }
};

// Latencies kept for quantiles: the last 8,192 values.
class Reservoir {
 public:
  void Add(double v) {
    std::lock_guard<std::mutex> l(mu_);
    if (values_.size() < kSize) values_.push_back(v);
    else values_[next_] = v;
    next_ = (next_ + 1) % kSize;
    sum_ += v, ++count_;
  }
  // (quantile, value) for 0.5, 0.9, 0.99; sum and count of every value.
  void Snapshot(std::vector<std::pair<double, double>>* q, double* sum, int64_t* count) const {
    std::vector<double> v;
    {
      std::lock_guard<std::mutex> l(mu_);
      v = values_;
      *sum = sum_, *count = count_;
    }
    std::sort(v.begin(), v.end());
    q->clear();
    for (double p : {0.5, 0.9, 0.99})
      q->emplace_back(p, v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]);
  }

 private:
  static constexpr size_t kSize = 8192;
  mutable std::mutex mu_;
  std::vector<double> values_;
  size_t next_ = 0;
  double sum_ = 0;
  int64_t count_ = 0;
};

constexpr int64_t kBatchBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

// A batching thread's buffers, reused from batch to batch.
struct Scratch {
  std::vector<float> obs, af, out, val, state, next_state;
  std::vector<uint8_t> masks;
  std::vector<int64_t> ai;
};

// A served model: the current version, its queue and batching threads.
class Slot {
 public:
  Slot(ModelSource source, const ServerOptions& o) : source_(std::move(source)), o_(o) {
    // The stamp first: a file replaced while it loads is loaded again.
    stamp_ = source_.stamp ? source_.stamp() : "";
    model_ = Loaded();
  }

  const std::string& name() const { return source_.name; }
  std::shared_ptr<const runtime::Model> model() const {
    std::lock_guard<std::mutex> l(model_mu_);
    return model_;
  }
  int64_t version() const {
    std::lock_guard<std::mutex> l(model_mu_);
    return version_;
  }
  // The model and its version, read together.
  std::pair<std::shared_ptr<const runtime::Model>, int64_t> Current() const {
    std::lock_guard<std::mutex> l(model_mu_);
    return {model_, version_};
  }

  void StartWorkers() {
    for (int w = 0; w < o_.workers; ++w) workers_.emplace_back([this] { WorkerLoop(); });
  }

  // Queues a request, or refuses it (false) when the queue is full.
  // Queues a request; 0 when queued, else the HTTP status of the refusal.
  int Enqueue(const std::shared_ptr<Request>& r) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return 503;
      if (queued_rows_ + r->n > o_.max_queue) return 429;
      queue_.push_back(r);
      queued_rows_ += r->n;
    }
    cv_.notify_one();
    return 0;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    std::lock_guard<std::mutex> l(mu_);
    for (auto& r : queue_) {
      r->status = 503, r->error = "the server is stopping";
      r->Finish();
    }
    queue_.clear();
    queued_rows_ = 0;
  }

  // Hot reload: a changed stamp loads the file again (serving goes on with
  // the old version meanwhile; a failure keeps it).
  void CheckReload() {
    if (!source_.stamp) return;
    std::string now;
    try {
      now = source_.stamp();
      missing_ = 0;
    } catch (const std::exception& e) {
      // Being replaced (look again next time), or gone: said once, after
      // three polls in a row found nothing.
      if (++missing_ == 3 && !o_.quiet)
        std::fprintf(stderr, "serve: model '%s': %s; still serving version %lld\n", name().c_str(), e.what(),
                     static_cast<long long>(version()));
      return;
    }
    if (now == stamp_) return;
    try {
      auto m = Loaded();
      {
        const std::string why = WhySpacesDiffer(*model(), *m);
        if (!why.empty()) throw std::runtime_error(Cat("the new file is for other spaces: ", why));
      }
      int64_t v;
      {
        std::lock_guard<std::mutex> l(model_mu_);
        model_ = std::move(m);
        v = ++version_;
      }
      stamp_ = now;
      ++reloads_;
      if (!o_.quiet) std::fprintf(stderr, "serve: reloaded model '%s' from %s (version %lld)\n", name().c_str(),
                                  source_.path.c_str(), static_cast<long long>(v));
    } catch (const std::exception& e) {
      ++reload_failures_;
      stamp_ = now;  // do not retry the same broken file every poll
      if (!o_.quiet)
        std::fprintf(stderr, "serve: reloading '%s' failed, still serving version %lld: %s\n", name().c_str(),
                     static_cast<long long>(version()), e.what());
    }
  }

  void CountRequest(int status) {
    std::lock_guard<std::mutex> l(metrics_mu_);
    ++requests_[status];
  }
  void AddLatency(double s) { latency_.Add(s); }

  void Metrics(std::ostringstream& out) const {
    const std::string m = Cat("model=\"", name(), "\"");
    {
      std::lock_guard<std::mutex> l(metrics_mu_);
      for (const auto& [code, count] : requests_)
        out << "rlforge_requests_total{" << m << ",code=\"" << code << "\"} " << count << "\n";
      out << "rlforge_rows_total{" << m << "} " << rows_ << "\n";
      out << "rlforge_batches_total{" << m << "} " << batches_ << "\n";
      int64_t cumulative = 0;
      for (size_t b = 0; b < std::size(kBatchBuckets); ++b) {
        cumulative += batch_hist_[b];
        out << "rlforge_batch_size_bucket{" << m << ",le=\"" << kBatchBuckets[b] << "\"} " << cumulative << "\n";
      }
      cumulative += batch_hist_[std::size(kBatchBuckets)];
      out << "rlforge_batch_size_bucket{" << m << ",le=\"+Inf\"} " << cumulative << "\n";
      out << "rlforge_batch_size_sum{" << m << "} " << rows_ << "\n";
      out << "rlforge_batch_size_count{" << m << "} " << batches_ << "\n";
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      out << "rlforge_queue_rows{" << m << "} " << queued_rows_ << "\n";
    }
    out << "rlforge_model_version{" << m << "} " << version_.load() << "\n";
    out << "rlforge_reloads_total{" << m << "} " << reloads_.load() << "\n";
    out << "rlforge_reload_failures_total{" << m << "} " << reload_failures_.load() << "\n";
    for (const auto& [metric, r] : {std::pair<const char*, const Reservoir*>{"rlforge_queue_seconds", &queue_time_},
                                    {"rlforge_request_seconds", &latency_}}) {
      std::vector<std::pair<double, double>> q;
      double sum;
      int64_t count;
      r->Snapshot(&q, &sum, &count);
      for (const auto& [p, v] : q) out << metric << "{" << m << ",quantile=\"" << p << "\"} " << v << "\n";
      out << metric << "_sum{" << m << "} " << sum << "\n" << metric << "_count{" << m << "} " << count << "\n";
    }
  }

 private:
  // Loads the source and checks that a Policy can be built from it (a model
  // that parses but does not fit is refused here, not in a worker).
  std::shared_ptr<const runtime::Model> Loaded() {
    auto m = std::make_shared<const runtime::Model>(source_.load());
    runtime::Policy probe(*m);
    return m;
  }

  void WorkerLoop() {
    auto [model, version] = Current();
    // Two policies: seeded requests use their own, so that a client's seed
    // does not set the stream of other clients' sampled actions.
    auto policy = std::make_unique<runtime::Policy>(*model);
    auto seeded = std::make_unique<runtime::Policy>(*model);
    policy->Seed(static_cast<uint64_t>(std::hash<std::thread::id>()(std::this_thread::get_id())));
    std::vector<std::shared_ptr<Request>> batch;
    Scratch scratch;
    for (;;) {
      batch.clear();
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        const auto until = queue_.front()->arrived + std::chrono::microseconds(o_.max_delay_us);
        while (!stopping_ && queued_rows_ < o_.max_batch && Clock::now() < until) cv_.wait_until(l, until);
        if (stopping_) return;
        int64_t rows = 0;
        while (!queue_.empty() && (batch.empty() || rows + queue_.front()->n <= o_.max_batch)) {
          rows += queue_.front()->n;
          queued_rows_ -= queue_.front()->n;
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (version != this->version()) {
        std::tie(model, version) = Current();
        try {
          policy = std::make_unique<runtime::Policy>(*model);
          seeded = std::make_unique<runtime::Policy>(*model);
        } catch (const std::exception& e) {
          // Loaded() built one already; should memory run out now, the
          // batch is refused and the next one tries again.
          for (auto& r : batch) {
            r->status = 503, r->error = Printable(e.what());
            r->Finish();
          }
          version = -1;
          continue;
        }
      }
      Run(*policy, *seeded, *model, version, batch, &scratch);
    }
  }

  // Answers a batch: seeded requests one by one (exactly as Seed then Act),
  // the rest in at most two calls (greedy, sampled).
  void Run(runtime::Policy& p, runtime::Policy& seeded, const runtime::Model& m, int64_t version,
           std::vector<std::shared_ptr<Request>>& batch, Scratch* s) {
    const auto now = Clock::now();
    std::vector<std::shared_ptr<Request>> groups[2], seeded_requests;
    int64_t rows = 0;
    for (auto& r : batch) {
      r->version = version;
      r->queue_seconds = std::chrono::duration<double>(now - r->arrived).count();
      queue_time_.Add(r->queue_seconds);
      if (r->abandoned.load()) continue;
      if (now > r->deadline) {
        r->status = 504, r->error = "the request's deadline passed while it waited in the queue";
        r->Finish();
        continue;
      }
      if (r->model.get() != &m && !SameInterface(*r->model, m)) {
        r->status = 503, r->error = "the model was reloaded with other inputs or outputs while the request waited; retry";
        r->Finish();
        continue;
      }
      rows += r->n;
      (r->seed ? seeded_requests : groups[r->deterministic ? 0 : 1]).push_back(r);
    }
    // Counted before any answer goes out: a client that has its answer sees
    // its rows in /metrics.
    if (rows > 0) {
      std::lock_guard<std::mutex> l(metrics_mu_);
      rows_ += rows, ++batches_;
      size_t b = 0;
      while (b < std::size(kBatchBuckets) && rows > kBatchBuckets[b]) ++b;
      ++batch_hist_[b];
    }
    for (auto& r : seeded_requests) Answer(seeded, m, {r}, *r->seed, s);
    for (auto& g : groups)
      if (!g.empty()) Answer(p, m, g, std::nullopt, s);
  }

  void Answer(runtime::Policy& p, const runtime::Model& m, const std::vector<std::shared_ptr<Request>>& rs,
              std::optional<uint64_t> seed, Scratch* s) {
    auto& obs_ = s->obs;
    auto& masks_ = s->masks;
    auto& ai_ = s->ai;
    auto& af_ = s->af;
    auto& out_ = s->out;
    auto& val_ = s->val;
    int64_t n = 0;
    bool any_mask = false;
    for (const auto& r : rs) n += r->n, any_mask = any_mask || !r->masks.empty();
    const int64_t d = m.obs_size(), ms = m.mask_size(), k = m.action_size(), S = m.state_size();
    obs_.resize(static_cast<size_t>(n * d));
    masks_.assign(any_mask ? static_cast<size_t>(n * ms) : 0, 1);
    // Recurrent models: the requests' states (zeros where none was sent).
    s->state.assign(static_cast<size_t>(n * S), 0.0f);
    int64_t at = 0;
    for (const auto& r : rs) {
      std::copy(r->obs.begin(), r->obs.end(), obs_.begin() + at * d);
      if (!r->masks.empty()) std::copy(r->masks.begin(), r->masks.end(), masks_.begin() + at * ms);
      if (!r->state.empty()) std::copy(r->state.begin(), r->state.end(), s->state.begin() + at * S);
      at += r->n;
    }
    // Each call below is one step from the requests' states.
    auto from_request_states = [&] {
      if (S > 0) p.SetState(n, s->state.data());
    };
    const bool deterministic = rs.front()->deterministic;
    try {
      if (seed) p.Seed(*seed);
      const uint8_t* masks = any_mask ? masks_.data() : nullptr;
      from_request_states();
      if (p.discrete()) {
        ai_.resize(static_cast<size_t>(n * k));
        p.Act(obs_.data(), n, masks, ai_.data(), deterministic);
      } else {
        af_.resize(static_cast<size_t>(n * k));
        p.Act(obs_.data(), n, af_.data(), deterministic);
      }
      if (S > 0) {
        s->next_state.resize(static_cast<size_t>(n * S));
        p.GetState(n, s->next_state.data());
      }
      bool outputs = false, value = false;
      for (const auto& r : rs) outputs = outputs || r->want_outputs, value = value || r->want_value;
      const int64_t width = m.head == runtime::HeadKind::kGaussian ? m.outputs_size()
                            : m.head == runtime::HeadKind::kQValues ? m.num_actions
                                                                    : ms;
      if (outputs) {
        out_.resize(static_cast<size_t>(n * width));
        from_request_states();
        if (m.head == runtime::HeadKind::kGaussian) p.Outputs(obs_.data(), n, out_.data());
        else p.Scores(obs_.data(), n, masks, out_.data());
      }
      if (value) {
        val_.resize(static_cast<size_t>(n));
        from_request_states();
        p.Values(obs_.data(), n, val_.data());
      }
      at = 0;
      for (const auto& r : rs) {
        if (p.discrete()) r->actions_i.assign(ai_.begin() + at * k, ai_.begin() + (at + r->n) * k);
        else r->actions_f.assign(af_.begin() + at * k, af_.begin() + (at + r->n) * k);
        if (r->want_outputs) r->outputs.assign(out_.begin() + at * width, out_.begin() + (at + r->n) * width);
        if (r->want_value) r->values.assign(val_.begin() + at, val_.begin() + at + r->n);
        if (S > 0) r->next_state.assign(s->next_state.begin() + at * S, s->next_state.begin() + (at + r->n) * S);
        at += r->n;
        r->Finish();
      }
    } catch (const std::exception& e) {
      // Rows were checked on arrival; what is left (e.g. a Discrete
      // observation out of range) fails its whole group with the reason.
      for (const auto& r : rs) {
        r->status = 400, r->error = e.what();
        r->Finish();
      }
    }
  }

  ModelSource source_;
  const ServerOptions& o_;
  mutable std::mutex model_mu_;
  std::shared_ptr<const runtime::Model> model_;
  std::string stamp_;
  std::atomic<int64_t> version_{1}, reloads_{0}, reload_failures_{0};
  int missing_ = 0;  // polls in a row that found no file (watcher thread only)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> queue_;
  int64_t queued_rows_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  mutable std::mutex metrics_mu_;
  std::map<int, int64_t> requests_;
  int64_t rows_ = 0, batches_ = 0;
  int64_t batch_hist_[std::size(kBatchBuckets) + 1] = {};
  Reservoir queue_time_, latency_;
};

// Flattens a JSON observation (a number, or nested lists of numbers) into
// out; `what` names the values in errors.
void Flatten(const Json& j, std::vector<float>* out, const char* what = "observation", int depth = 0) {
  if (j.is_number()) {
    const auto v = static_cast<float>(j.get<double>());
    if (!std::isfinite(v)) throw BadRequest{400, Cat(what, " values must be finite float32 numbers")};
    out->push_back(v);
  } else if (j.is_array() && depth < 8) {
    for (const auto& e : j) Flatten(e, out, what, depth + 1);
  } else {
    throw BadRequest{400, Cat(what, " values must be numbers, got ", j.type_name())};
  }
}

// The shape of a JSON number or nested list of numbers ([] for a number);
// false when the lists are ragged (or not numbers).
bool ShapeOf(const Json& j, std::vector<int64_t>* shape, int depth = 0) {
  if (j.is_number()) return true;
  if (!j.is_array() || depth >= 8) return false;
  shape->push_back(static_cast<int64_t>(j.size()));
  if (j.empty()) return true;
  std::vector<int64_t> first;
  if (!ShapeOf(j[0], &first, depth + 1)) return false;
  for (size_t i = 1; i < j.size(); ++i) {
    std::vector<int64_t> other;
    if (!ShapeOf(j[i], &other, depth + 1) || other != first) return false;
  }
  shape->insert(shape->end(), first.begin(), first.end());
  return true;
}

// Observation `row` of a JSON request: nested as the model's observation
// shape, or flat (a list of obs_size numbers; a bare number when it takes
// one), appended to out.
void ReadObservation(const Json& j, const runtime::Model& m, const std::string& model_name, int64_t row,
                     std::vector<float>* out) {
  std::vector<int64_t> shape;
  const bool regular = ShapeOf(j, &shape);
  const int64_t d = m.obs_size();
  const bool fits = regular && (shape == m.obs_shape || shape == std::vector<int64_t>{d} ||
                                (d == 1 && shape.empty()));
  if (!fits) {
    if (!regular) Flatten(j, out);  // non-numbers are named by Flatten
    const std::string takes = m.obs_shape.size() > 1 ? Cat(ShapeText(m.obs_shape), " or a flat list of ", d, " numbers")
                                                      : Cat(d, d == 1 ? " number" : " numbers");
    throw BadRequest{400, Cat("observation ", row, regular ? Cat(" has shape ", ShapeText(shape)) : std::string(" is a ragged list"),
                              "; model '", model_name, "' takes ", takes, " (", m.env, ")")};
  }
  Flatten(j, out);
}

void ReadMask(const Json& j, int64_t size, std::vector<uint8_t>* out, int64_t row) {
  if (!j.is_array() || static_cast<int64_t>(j.size()) != size)
    throw BadRequest{400, Cat("mask of row ", row, " must be a list of ", size, " values (0/1 or false/true)")};
  for (const auto& e : j) {
    if (e.is_boolean()) out->push_back(e.get<bool>());
    else if (e.is_number_integer() && (e.get<int64_t>() == 0 || e.get<int64_t>() == 1)) out->push_back(static_cast<uint8_t>(e.get<int64_t>()));
    else throw BadRequest{400, Cat("mask values must be 0/1 or false/true (row ", row, ")")};
  }
}

// Every row's mask leaves a legal action (per dimension for MultiDiscrete).
void CheckMasks(const runtime::Model& m, const std::vector<uint8_t>& masks, int64_t n) {
  if (masks.empty()) return;
  const int64_t ms = m.mask_size();
  const std::vector<int64_t> dims = m.head == runtime::HeadKind::kMultiCategorical ? m.nvec : std::vector<int64_t>{ms};
  for (int64_t r = 0; r < n; ++r)
    for (size_t d = 0, o = 0; d < dims.size(); o += static_cast<size_t>(dims[d]), ++d) {
      bool any = false;
      for (int64_t j = 0; j < dims[d]; ++j) any = any || masks[r * ms + o + j];
      if (!any)
        throw BadRequest{400, dims.size() > 1 ? Cat("mask of row ", r, " leaves no legal value in action dimension ", d)
                                              : Cat("mask of row ", r, " leaves no legal action")};
    }
}

// Discrete and MultiDiscrete observations are indices in range (a bad row is
// refused alone, before it can fail a batch shared with other clients).
void CheckObservations(const runtime::Model& m, const std::vector<float>& obs, int64_t n) {
  const int64_t d = m.obs_size();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) {
      const float v = obs[r * d + i];
      int64_t lo = 0, hi = 0;
      if (m.obs_kind == runtime::ObsKind::kDiscrete) lo = m.obs_start, hi = m.obs_start + m.obs_n;
      else if (m.obs_kind == runtime::ObsKind::kMultiDiscrete) hi = m.obs_nvec[i];
      else return;
      if (v != std::floor(v) || v < static_cast<float>(lo) || v >= static_cast<float>(hi))
        throw BadRequest{400, Cat("observation ", r, " value ", v, " is not an integer in [", lo, ", ", hi, ")")};
    }
}

// Query parameter `key` of a binary request: an unsigned decimal integer
// up to `max`.
uint64_t QueryUint(const httplib::Request& req, const char* key, uint64_t max, uint64_t min = 0) {
  const std::string v = req.get_param_value(key);
  uint64_t x = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);  // no sign, no overflow
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || x > max || x < min)
    throw BadRequest{400, Cat("query parameter '", key, "' must be an integer in ", min, "..", max, ", got '", Printable(v),
                              "'")};
  return x;
}

// The keys of a request target's query string, percent-decoded as httplib
// decodes them ("/v1/act?a=1&mod%65l=x" -> a, model).
std::vector<std::string> UrlQueryKeys(const std::string& target) {
  auto hex = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10); };
  std::vector<std::string> keys;
  const size_t q = target.find('?');
  if (q == std::string::npos) return keys;
  std::stringstream query(target.substr(q + 1));
  for (std::string item; std::getline(query, item, '&');) {
    if (item.empty()) continue;
    const std::string raw = item.substr(0, item.find('='));
    std::string key;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
        key += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
        i += 2;
      } else {
        key += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    keys.push_back(key);
  }
  return keys;
}

// A 0/1 (or false/true) query parameter.
bool QueryFlag(const httplib::Request& req, const char* key, bool absent) {
  if (!req.has_param(key)) return absent;
  const std::string v = req.get_param_value(key);
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  throw BadRequest{400, Cat("query parameter '", key, "' must be 0 or 1 (or false/true), got '", Printable(v), "'")};
}

// The media type of a Content-Type header, lower case, without parameters.
std::string MediaType(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  const auto b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
  t = b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

}  // namespace

class Server::Impl {
 public:
  Impl(std::vector<ModelSource> models, ServerOptions o) : o_(std::move(o)) {
    if (models.empty()) throw std::runtime_error("no model to serve");
    if (o_.max_batch < 1 || o_.max_delay_us < 0 || o_.max_queue < 1 || o_.workers < 1 || o_.http_threads < 1 ||
        o_.timeout_ms < 1 || o_.keep_alive_s < 1)
      throw std::runtime_error("serve options out of range");
    for (auto& m : models) {
      const std::string name = m.name, path = m.path;
      for (const auto& s : slots_)
        if (s->name() == name) throw std::runtime_error(Cat("model name '", name, "' is given twice"));
      try {
        slots_.push_back(std::make_unique<Slot>(std::move(m), o_));
      } catch (const std::exception& e) {
        throw std::runtime_error(Cat("model '", name, "' (", path, "): ", e.what()));
      }
    }
    Routes();
  }

  int Start() {
    http_.new_task_queue = [n = o_.http_threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    http_.set_payload_max_length(static_cast<size_t>(o_.max_body_bytes));
    http_.set_keep_alive_max_count(1000000);
    http_.set_tcp_nodelay(true);  // small answers must not wait for delayed ACKs
    http_.set_keep_alive_timeout(o_.keep_alive_s);
    http_.set_read_timeout(5, 0);
    http_.set_write_timeout(5, 0);
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which lets
    // a second server bind the same port and take half of its requests.
    http_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
    });
    port_ = o_.port == 0 ? http_.bind_to_any_port(o_.host) : (http_.bind_to_port(o_.host, o_.port) ? o_.port : -1);
    if (port_ < 0) throw std::runtime_error(Cat("cannot listen on ", o_.host, ":", o_.port, " (in use, or not an address here)"));
    for (auto& s : slots_) s->StartWorkers();
    listener_ = std::thread([this] { http_.listen_after_bind(); });
    // Until the listener runs, httplib's stop() would do nothing.
    for (int i = 0; i < 5000 && !http_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!http_.is_running()) {
      Stop();
      throw std::runtime_error(Cat("the server on ", o_.host, ":", port_, " did not start"));
    }
    if (o_.reload_poll_ms > 0)
      watcher_ = std::thread([this] {
        std::unique_lock<std::mutex> l(stop_mu_);
        while (!stopped_) {
          stop_cv_.wait_for(l, std::chrono::milliseconds(o_.reload_poll_ms));
          if (stopped_) break;
          l.unlock();
          for (auto& s : slots_) s->CheckReload();
          l.lock();
        }
      });
    return port_;
  }

  // Returns once Stop() has finished.
  void Wait() {
    std::unique_lock<std::mutex> l(stop_mu_);
    stop_cv_.wait(l, [this] { return finished_; });
  }

  // One caller stops; others (and the destructor) wait for it to finish.
  void Stop() {
    std::lock_guard<std::mutex> one(stopping_mu_);
    {
      std::lock_guard<std::mutex> l(stop_mu_);
      if (finished_) return;
      stopped_ = true;
    }
    stop_cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    // Queued requests are answered 503 first, so that no handler waits for
    // a batch that will not come; then the listener stops.
    for (auto& s : slots_) s->Stop();
    http_.stop();
    if (listener_.joinable()) listener_.join();
    {
      std::lock_guard<std::mutex> l(stop_mu_);
      finished_ = true;
    }
    stop_cv_.notify_all();
  }

  ~Impl() { Stop(); }

  // Prometheus' text format: each family's HELP and TYPE, then all its
  // samples (every model's) together.
  std::string Metrics() const {
    struct Family {
      const char *name, *type, *help;
    };
    static const Family kFamilies[] = {
        {"rlforge_requests_total", "counter", "Requests answered, by model and HTTP status."},
        {"rlforge_rows_total", "counter", "Observation rows acted on."},
        {"rlforge_batches_total", "counter", "Batches the runtime ran."},
        {"rlforge_batch_size", "histogram", "Rows per batch the runtime ran."},
        {"rlforge_queue_rows", "gauge", "Rows waiting in the queue."},
        {"rlforge_model_version", "gauge", "Version of the model served (1, then one more per reload)."},
        {"rlforge_reloads_total", "counter", "Reloads that swapped in a changed model file."},
        {"rlforge_reload_failures_total", "counter", "Changed model files that did not load (the old model kept serving)."},
        {"rlforge_queue_seconds", "summary", "Time from arrival to the batch that took the request."},
        {"rlforge_request_seconds", "summary", "Time from arrival to the answer."}};
    std::ostringstream samples;
    for (const auto& s : slots_) s->Metrics(samples);
    std::map<std::string, std::string> by_family;
    std::stringstream lines(samples.str());
    for (std::string line; std::getline(lines, line);) {
      std::string metric = line.substr(0, line.find_first_of("{ "));
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (metric.size() > s.size() && metric.compare(metric.size() - s.size(), s.size(), s) == 0 &&
            std::none_of(std::begin(kFamilies), std::end(kFamilies), [&](const Family& f) { return metric == f.name; })) {
          metric.resize(metric.size() - s.size());
          break;
        }
      }
      by_family[metric] += line + "\n";
    }
    std::ostringstream out;
    for (const Family& f : kFamilies) {
      out << "# HELP " << f.name << " " << f.help << "\n# TYPE " << f.name << " " << f.type << "\n"
          << by_family[f.name];
      by_family.erase(f.name);
    }
    for (const auto& [name, lines] : by_family) out << lines;  // a family not listed above: untyped, never dropped
    return out.str();
  }

 private:
  Slot* Find(const std::string& name) {
    for (auto& s : slots_)
      if (s->name() == name) return s.get();
    return nullptr;
  }

  void Routes() {
    // Bodies are bounded before they are read: httplib enforces the payload
    // limit only on requests that state their length.
    http_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (req.method != "POST") return httplib::Server::HandlerResponse::Unhandled;
      std::string why;
      const std::string n = req.get_header_value("Content-Length");
      if (req.has_header("Content-Encoding")) {
        res.status = 415, why = "compressed bodies are not accepted";
      } else if (!req.has_header("Content-Length")) {
        res.status = 411, why = "a POST needs a Content-Length";
      } else if (req.get_header_value_count("Content-Length") > 1 || req.has_header("Transfer-Encoding")) {
        // Which length holds is ambiguous (a way to smuggle a request past a proxy): RFC 9112 6.3.
        res.status = 400, why = "a POST needs exactly one Content-Length and no Transfer-Encoding";
      } else if (n.empty() || n.size() > 19 || n.find_first_not_of("0123456789") != std::string::npos) {
        res.status = 400, why = "Content-Length must be a decimal number of bytes";
      } else if (MediaType(req.get_header_value("Content-Type")) == "application/x-www-form-urlencoded" &&
                 std::stoull(n) > CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH) {
        // httplib parses form bodies itself and refuses larger ones before any handler sees them.
        res.status = 413;
        why = Cat("a body sent as application/x-www-form-urlencoded (curl -d's default) may hold at most ",
                  CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH, " bytes; send JSON as application/json "
                  "(curl --json, or -H 'Content-Type: application/json')");
      }
      if (why.empty()) return httplib::Server::HandlerResponse::Unhandled;
      // The unread body would be taken for the next request: close.
      res.set_header("Connection", "close");
      res.set_content(Json{{"error", why}}.dump(), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    });
    http_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(Metrics(), "text/plain; version=0.0.4");
    });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      Json all = Json::array();
      for (const auto& s : slots_) {
        auto m = s->model();
        all.push_back({{"name", s->name()}, {"version", s->version()}, {"model", Json::parse(m->Describe())}});
      }
      res.set_content(Json{{"models", all}}.dump(), "application/json");
    });
    http_.Post("/v1/act", [this](const httplib::Request& req, httplib::Response& res) { Act(req, res, ""); });
    http_.Post(R"(/v1/models/([^/]+)/act)",
               [this](const httplib::Request& req, httplib::Response& res) { Act(req, res, req.matches[1].str()); });
    http_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      const char* why = res.status == 404 ? "no such endpoint (POST /v1/act or /v1/models/NAME/act, GET /v1/models, "
                                            "/healthz, /metrics)"
                        : res.status == 413 ? "request body too large"
                                            : "bad request";
      res.set_content(Json{{"error", why}}.dump(), "application/json");
    });
    http_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string why = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        why = e.what();
      } catch (...) {
      }
      res.status = 500;
      res.set_content(Json{{"error", why}}.dump(), "application/json");
    });
  }

  void Act(const httplib::Request& req, httplib::Response& res, std::string name) {
    const auto arrived = Clock::now();
    Slot* slot = nullptr;
    const bool binary = MediaType(req.get_header_value("Content-Type")) == "application/octet-stream";
    auto fail = [&](int status, const std::string& why) {
      res.status = status;
      res.set_content(Json{{"error", why}}.dump(), "application/json");
      if (slot) slot->CountRequest(status);
    };
    try {
      Json j;
      if (!binary) {
        if (JsonDepth(req.body) > 16) throw BadRequest{400, "the JSON body is nested too deeply"};
        try {
          j = Json::parse(req.body);
        } catch (const Json::parse_error& e) {
          throw BadRequest{400, Cat("the body is not valid JSON (at byte ", e.byte,
                                    "; NaN, Infinity and numbers beyond float64 are not JSON)")};
        } catch (const Json::exception&) {
          throw BadRequest{400, "the body is not valid JSON (a number beyond float64)"};
        }
        if (!j.is_object()) throw BadRequest{400, Cat("the body must be a JSON object, got ", j.type_name())};
        static const char* const kKeys[] = {"model", "observation", "observations", "mask", "masks", "state", "states",
                                            "deterministic", "seed", "outputs", "value", "deadline_ms"};
        for (const auto& [key, value] : j.items())
          if (std::find_if(std::begin(kKeys), std::end(kKeys), [&](const char* k) { return key == k; }) == std::end(kKeys))
            throw BadRequest{400, Cat("unknown key \"", Printable(key), "\" (keys: model, observation(s), mask(s), ",
                                      "state(s), deterministic, seed, outputs, value, deadline_ms)")};
        if (j.contains("model")) {
          if (!j["model"].is_string()) throw BadRequest{400, "\"model\" must be a string"};
          if (!name.empty() && j["model"].get<std::string>() != name)
            throw BadRequest{400, "\"model\" differs from the model in the URL"};
          name = j["model"].get<std::string>();
        }
        // The URL's own query (a form body's fields are in req.params too).
        for (const std::string& key : UrlQueryKeys(req.target))
          if (key != "model")
            throw BadRequest{400, Cat("unknown query parameter '", Printable(key),
                                      "' (JSON requests take model; the rest goes in the body)")};
      }
      if (req.has_param("model")) {
        if (!name.empty() && req.get_param_value("model") != name)
          throw BadRequest{400, "query parameter 'model' differs from the model named in the URL or body"};
        name = req.get_param_value("model");
      }
      if (name.empty()) {
        if (slots_.size() > 1) throw BadRequest{400, "several models are served: name one (\"model\" or /v1/models/NAME/act)"};
        slot = slots_.front().get();
      } else if (!(slot = Find(name))) {
        throw BadRequest{404, Cat("unknown model '", Printable(name), "'")};
      }
      auto model = slot->model();
      const runtime::Model& m = *model;
      auto r = std::make_shared<Request>();
      r->model = model;
      r->arrived = arrived;
      int64_t deadline_ms = o_.timeout_ms;
      bool single = false;
      if (binary) {
        if (m.recurrent())
          throw BadRequest{400, Cat("model '", slot->name(), "' is recurrent: send JSON requests with \"state\" ",
                                    "(binary requests carry no state)")};
        for (const auto& [key, value] : req.params)
          if (key != "n" && key != "masks" && key != "deterministic" && key != "seed" && key != "model")
            throw BadRequest{400, Cat("unknown query parameter '", Printable(key),
                                      "' (binary requests take n, masks, deterministic, seed, model)")};
        r->n = req.has_param("n") ? static_cast<int64_t>(QueryUint(req, "n", 65536, 1)) : 1;
        const bool masked = QueryFlag(req, "masks", false);
        if (masked && (m.mask_size() == 0 || m.head == runtime::HeadKind::kGaussian))
          throw BadRequest{400, "this model's actions take no mask (masks=1)"};
        r->deterministic = QueryFlag(req, "deterministic", true);
        if (req.has_param("seed")) r->seed = QueryUint(req, "seed", UINT64_MAX);
        const size_t want = static_cast<size_t>(r->n * m.obs_size()) * sizeof(float) +
                            (masked ? static_cast<size_t>(r->n * m.mask_size()) : 0);
        if (req.body.size() != want)
          throw BadRequest{400, Cat("binary body of ", req.body.size(), " bytes; ", r->n, " rows of ", m.obs_size(),
                                    " float32", masked ? Cat(" and ", m.mask_size(), " mask bytes") : std::string(),
                                    " are ", want)};
        r->obs.resize(static_cast<size_t>(r->n * m.obs_size()));
        std::memcpy(r->obs.data(), req.body.data(), r->obs.size() * sizeof(float));
        for (float v : r->obs)
          if (!std::isfinite(v)) throw BadRequest{400, "observation values must be finite numbers"};
        if (masked) {
          r->masks.assign(req.body.begin() + static_cast<std::ptrdiff_t>(r->obs.size() * sizeof(float)), req.body.end());
          for (uint8_t b : r->masks)
            if (b > 1) throw BadRequest{400, "mask bytes must be 0 or 1"};
        }
      } else {
        single = j.contains("observation");
        if (single == j.contains("observations"))
          throw BadRequest{400, "give either \"observation\" (one) or \"observations\" (a list)"};
        // Row i of the request, without copying the JSON.
        const Json& all = single ? j["observation"] : j["observations"];
        if (!single && (!all.is_array() || all.empty() || all.size() > 65536))
          throw BadRequest{400, "\"observations\" must be a list of 1 to 65536 observations"};
        r->n = single ? 1 : static_cast<int64_t>(all.size());
        for (int64_t i = 0; i < r->n; ++i)
          ReadObservation(single ? all : all[static_cast<size_t>(i)], m, slot->name(), i, &r->obs);
        // One observation takes "mask" and "state", a list "masks" and
        // "states": the other spelling is refused, never ignored.
        for (const char* k : {"mask", "state"}) {
          const std::string one = k, many = one + "s";
          if (j.contains(single ? many : one))
            throw BadRequest{400, single ? Cat("one observation takes \"", one, "\", not \"", many, "\"")
                                         : Cat("a list of observations takes \"", many, "\", not \"", one, "\"")};
        }
        const char* mkey = single ? "mask" : "masks";
        if (j.contains(mkey) && !j[mkey].is_null()) {
          if (m.mask_size() == 0 || m.head == runtime::HeadKind::kGaussian)
            throw BadRequest{400, "this model's actions take no mask"};
          const Json& ms = j[mkey];
          if (single) {
            ReadMask(ms, m.mask_size(), &r->masks, 0);
          } else {
            if (!ms.is_array() || static_cast<int64_t>(ms.size()) != r->n)
              throw BadRequest{400, "\"masks\" must have one mask per observation"};
            for (size_t i = 0; i < ms.size(); ++i) ReadMask(ms[i], m.mask_size(), &r->masks, static_cast<int64_t>(i));
          }
        }
        // Recurrent state: one list of state_size numbers per row (null or
        // absent: zeros, the start of an episode).
        const char* skey = single ? "state" : "states";
        if (j.contains(skey) && !j[skey].is_null()) {
          if (!m.recurrent()) throw BadRequest{400, Cat("model '", slot->name(), "' is not recurrent: it takes no state")};
          const int64_t S = m.state_size();
          auto read = [&](const Json& st, int64_t row) {
            const size_t before = r->state.size();
            if (!st.is_null()) {
              if (!st.is_array()) throw BadRequest{400, Cat("state of row ", row, " must be a list of ", S, " numbers")};
              Flatten(st, &r->state, "state");
            } else {
              r->state.resize(before + static_cast<size_t>(S), 0.0f);
            }
            if (static_cast<int64_t>(r->state.size() - before) != S)
              throw BadRequest{400, Cat("state of row ", row, " has ", r->state.size() - before, " values; model '",
                                        slot->name(), "' keeps ", S)};
          };
          const Json& st = j[skey];
          if (single) {
            read(st, 0);
          } else {
            if (!st.is_array() || static_cast<int64_t>(st.size()) != r->n)
              throw BadRequest{400, "\"states\" must have one state (or null) per observation"};
            for (size_t i = 0; i < st.size(); ++i) read(st[i], static_cast<int64_t>(i));
          }
        }
        auto flag = [&](const char* key, bool def) {
          if (!j.contains(key)) return def;
          if (!j[key].is_boolean()) throw BadRequest{400, Cat("\"", key, "\" must be true or false")};
          return j[key].get<bool>();
        };
        r->deterministic = flag("deterministic", true);
        r->want_outputs = flag("outputs", false);
        r->want_value = flag("value", false);
        if (r->want_value && !m.has_value()) throw BadRequest{400, Cat("model '", slot->name(), "' has no value head")};
        if (j.contains("seed")) {
          if (!j["seed"].is_number_unsigned()) throw BadRequest{400, "\"seed\" must be a non-negative integer"};
          r->seed = j["seed"].get<uint64_t>();
        }
        if (j.contains("deadline_ms")) {
          if (!j["deadline_ms"].is_number() || j["deadline_ms"].get<double>() <= 0 || j["deadline_ms"].get<double>() > 60000)
            throw BadRequest{400, "\"deadline_ms\" must be a number in (0, 60000]"};
          deadline_ms = static_cast<int64_t>(std::ceil(j["deadline_ms"].get<double>()));
        }
      }
      CheckMasks(m, r->masks, r->n);
      CheckObservations(m, r->obs, r->n);
      if (r->n > o_.max_queue)
        throw BadRequest{413, Cat("a request of ", r->n, " rows is larger than the queue (", o_.max_queue, " rows)")};
      r->deadline = arrived + std::chrono::milliseconds(deadline_ms);
      if (const int refused = slot->Enqueue(r)) {
        fail(503, refused == 503 ? "the server is stopping"
                                 : Cat("model '", slot->name(), "' has its queue of ", o_.max_queue,
                                       " rows full; try again"));
        return;
      }
      {
        std::unique_lock<std::mutex> l(r->mu);
        if (!r->cv.wait_until(l, r->deadline + std::chrono::milliseconds(50), [&] { return r->done; })) {
          r->abandoned = true;
          l.unlock();
          fail(504, "deadline passed before the request was answered");
          return;
        }
      }
      if (r->status != 200) {
        fail(r->status, r->error);
        return;
      }
      const bool discrete = m.head != runtime::HeadKind::kGaussian;
      if (binary) {
        std::string body;
        if (discrete) body.assign(reinterpret_cast<const char*>(r->actions_i.data()), r->actions_i.size() * sizeof(int64_t));
        else body.assign(reinterpret_cast<const char*>(r->actions_f.data()), r->actions_f.size() * sizeof(float));
        res.set_content(body, "application/octet-stream");
      } else {
        const int64_t k = m.action_size();
        const bool scalar = discrete && m.head != runtime::HeadKind::kMultiCategorical;
        auto action = [&](int64_t i) -> Json {
          if (scalar) return r->actions_i[i];
          Json a = Json::array();
          for (int64_t c = 0; c < k; ++c) discrete ? a.push_back(r->actions_i[i * k + c]) : a.push_back(r->actions_f[i * k + c]);
          return a;
        };
        Json out = {{"model", slot->name()}, {"version", r->version}};
        const int64_t width = r->n ? static_cast<int64_t>(r->outputs.size()) / r->n : 0;
        auto row_outputs = [&](int64_t i) {
          return std::vector<float>(r->outputs.begin() + i * width, r->outputs.begin() + (i + 1) * width);
        };
        if (single) {
          out["action"] = action(0);
          if (r->want_outputs) out["outputs"] = row_outputs(0);
          if (r->want_value) out["value"] = r->values[0];
          if (m.recurrent()) out["next_state"] = r->next_state;
        } else {
          Json a = Json::array();
          for (int64_t i = 0; i < r->n; ++i) a.push_back(action(i));
          out["actions"] = a;
          if (r->want_outputs) {
            Json o = Json::array();
            for (int64_t i = 0; i < r->n; ++i) o.push_back(row_outputs(i));
            out["outputs"] = o;
          }
          if (r->want_value) out["values"] = r->values;
          if (m.recurrent()) {
            const int64_t S = m.state_size();
            Json st = Json::array();
            for (int64_t i = 0; i < r->n; ++i)
              st.push_back(std::vector<float>(r->next_state.begin() + i * S, r->next_state.begin() + (i + 1) * S));
            out["next_states"] = st;
          }
        }
        res.set_content(out.dump(), "application/json");
      }
      slot->CountRequest(200);
      slot->AddLatency(std::chrono::duration<double>(Clock::now() - arrived).count());
    } catch (const BadRequest& e) {
      fail(e.status, e.what);
    }
  }

  ServerOptions o_;
  std::vector<std::unique_ptr<Slot>> slots_;
  httplib::Server http_;
  int port_ = -1;
  std::thread listener_, watcher_;
  std::mutex stopping_mu_, stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false, finished_ = false;
};

Server::Server(std::vector<ModelSource> models, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(models), std::move(options))) {}
Server::~Server() = default;
int Server::Start() { return impl_->Start(); }
void Server::Wait() { impl_->Wait(); }
void Server::Stop() { impl_->Stop(); }
std::string Server::MetricsText() const { return impl_->Metrics(); }

}  // namespace rlforge::serve
