// rlforge/serve/server.h — an HTTP server that acts with exported policies,
// batching requests dynamically (`rlforge serve`; docs/deploy.md).
//
// Requests wait in a bounded queue per model; a batching thread forms a
// batch when max_batch rows are waiting or the oldest request has waited
// max_delay_us (dynamic batching as Triton defines it), runs the runtime
// (rlforge/runtime/) once on it, and answers each request. A full queue is
// answered 503 at once; a request still waiting at its deadline, 504.
//
// Endpoints:
//   POST /v1/act, POST /v1/models/NAME/act   actions (JSON or binary)
//   GET  /v1/models                          the models, their inputs and outputs
//   GET  /healthz                            "ok"
//   GET  /metrics                            Prometheus text
// JSON request: {"observation": [...]} or {"observations": [[...], ...]},
// optional "mask"/"masks" (0/1, the model's mask_size per row),
// "deterministic" (default true), "seed" (sampled actions exactly as
// runtime::Policy::Seed(seed) then Act), "outputs" and "value" (true: return
// probabilities / Q-values / Gaussian means, and state values), "model"
// (on /v1/act, when several are served), "deadline_ms".
// Binary request (Content-Type application/octet-stream): the rows' float32
// observations, then (with ?masks=1) their mask bytes; query n=ROWS,
// deterministic=0|1, seed=S. The answer is the actions: int64 per value for
// Discrete/MultiDiscrete, float32 for Box.
// Bad requests get 400 (413 for bodies over max_body_bytes, 404 for unknown
// models) with {"error": "<one line>"}; nothing a client sends stops the
// server.
#ifndef RLFORGE_SERVE_SERVER_H_
#define RLFORGE_SERVE_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/runtime/model.h"

namespace rlforge::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;               // 0: any free port (Start returns it)
  int64_t max_batch = 64;        // rows per batch (1: no batching)
  int64_t max_delay_us = 2000;   // longest wait of the oldest request for a batch to fill
  int64_t max_queue = 4096;      // rows waiting per model; more are refused with 503
  int workers = 1;               // batching threads per model
  int http_threads = 128;        // connections served at once
  int64_t timeout_ms = 1000;     // default deadline of a request
  int64_t max_body_bytes = 16 << 20;
  int64_t reload_poll_ms = 500;  // how often model files are checked for changes (0: never)
  int keep_alive_s = 5;          // idle connections are closed after this (Stop waits for them)
  bool quiet = false;            // no log lines on stderr
};

// A served model: its name, where it comes from, how to load it, and a stamp
// that changes when its file does (hot reload).
struct ModelSource {
  std::string name, path;
  std::function<runtime::Model()> load;
  std::function<std::string()> stamp;
};

class Server {
 public:
  // Loads every model (InvalidArgument-like std::runtime_error naming the
  // model when one fails).
  Server(std::vector<ModelSource> models, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on background threads; returns the port.
  int Start();
  // Blocks until Stop() (from another thread or a signal handler's thread).
  void Wait();
  // Stops accepting, answers what is queued with 503, joins every thread.
  void Stop();
  // The /metrics text.
  std::string MetricsText() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rlforge::serve

#endif  // RLFORGE_SERVE_SERVER_H_
