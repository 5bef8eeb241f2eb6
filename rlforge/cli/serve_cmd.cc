// rlforge serve — policies behind HTTP with dynamic batching
// (rlforge/serve/server.h; docs/deploy.md).
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "rlforge/cli/common.h"
#include "rlforge/serve/server.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct ServeArgs {
  std::vector<std::string> policies;
  serve::ServerOptions o;
  std::string quantize;
};

bool IsRlfFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[8] = {};
  return f.read(magic, 8) && std::string(magic, 8) == "RLFMODEL";
}

// What changes when the model's file does: size and modification time of the
// rlf file, or of a run directory's newest checkpoint (and its name).
std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(StrCat("cannot stat ", path));
  return StrCat(path, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

serve::ModelSource Source(const std::string& spec, const std::string& quantize) {
  std::string name, path = spec;
  static const std::regex named(R"(([A-Za-z0-9_.-]+)=(.+))");
  std::smatch m;
  if (std::regex_match(spec, m, named)) name = m[1].str(), path = m[2].str();
  RLF_CHECK_ARG(spec.empty() || spec.front() != '=' || std::filesystem::exists(spec), "--policy '", spec,
                "': the model name before '=' is empty (NAME=PATH)");
  RLF_CHECK_ARG(spec.empty() || spec.back() != '=' || std::filesystem::exists(spec), "--policy '", spec,
                "': the path after '=' is empty (NAME=PATH)");
  RLF_CHECK_ARG(std::filesystem::exists(path), "--policy '", spec, "': no such file or run directory '", path, "'");
  if (name.empty()) name = std::filesystem::path(path).lexically_normal().filename().stem().string();
  if (name.empty() || !std::regex_match(name, std::regex("[A-Za-z0-9_.-]+"))) name = "default";
  serve::ModelSource s;
  s.name = name;
  s.path = path;
  const bool rlf = !std::filesystem::is_directory(path) && IsRlfFile(path);
  s.load = [path, rlf, quantize] {
    runtime::Model model = rlf ? runtime::Load(path) : LoadRun(path).algorithm->Export();
    if (quantize == "int8") runtime::Quantize(&model);
    return model;
  };
  s.stamp = [path, rlf] {
    return rlf || !std::filesystem::is_directory(path) ? FileStamp(path) : FileStamp(LatestCheckpoint(path));
  };
  return s;
}

void RunServe(ServeArgs a) {
  RLF_CHECK_ARG(!a.policies.empty(), "--policy is required (an rlf file, run directory or checkpoint; NAME=PATH to name it)");
  RLF_CHECK_ARG(a.o.port >= 0 && a.o.port <= 65535, "--port must be in 0..65535, got ", a.o.port);
  RLF_CHECK_ARG(a.o.max_batch >= 1 && a.o.max_batch <= 65536, "--max-batch must be in 1..65536, got ", a.o.max_batch);
  RLF_CHECK_ARG(a.o.max_delay_us >= 0 && a.o.max_delay_us <= 10000000, "--max-delay-us must be in 0..10000000");
  RLF_CHECK_ARG(a.o.max_queue >= 1 && a.o.max_queue <= 10000000, "--max-queue must be in 1..10000000");
  RLF_CHECK_ARG(a.o.workers >= 1 && a.o.workers <= 256, "--workers must be in 1..256, got ", a.o.workers);
  RLF_CHECK_ARG(a.o.http_threads >= 1 && a.o.http_threads <= 4096, "--http-threads must be in 1..4096");
  RLF_CHECK_ARG(a.o.timeout_ms >= 1 && a.o.timeout_ms <= 600000, "--timeout-ms must be in 1..600000");
  RLF_CHECK_ARG(a.o.max_body_bytes >= 1024, "--max-body-bytes must be >= 1024");
  RLF_CHECK_ARG(a.o.reload_poll_ms >= 0, "--reload-ms must be >= 0");
  RLF_CHECK_ARG(a.o.keep_alive_s >= 1 && a.o.keep_alive_s <= 3600, "--keep-alive-s must be in 1..3600");
  RLF_CHECK_ARG(a.quantize.empty() || a.quantize == "int8", "--quantize takes int8, got '", a.quantize, "'");
  std::vector<serve::ModelSource> sources;
  for (const auto& p : a.policies) sources.push_back(Source(p, a.quantize));
  std::vector<std::string> names;
  for (const auto& s : sources) names.push_back(s.name);
  // SIGINT and SIGTERM are taken by this thread (sigwait), not delivered to
  // the server's threads, which inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  serve::Server server(std::move(sources), a.o);
  const int port = server.Start();
  for (const auto& n : names)
    std::printf("serving model '%s' at http://%s:%d/v1/models/%s/act\n", n.c_str(), a.o.host.c_str(), port, n.c_str());
  std::printf("listening on http://%s:%d (max batch %lld, max delay %lld us, %d worker%s per model)\n", a.o.host.c_str(),
              port, static_cast<long long>(a.o.max_batch), static_cast<long long>(a.o.max_delay_us), a.o.workers,
              a.o.workers == 1 ? "" : "s");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  if (!a.o.quiet) std::fprintf(stderr, "serve: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.Stop();
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Serve policies over HTTP with dynamic batching (docs/deploy.md)");
  cmd->add_option("--policy", a->policies, "[NAME=]PATH of an rlf file, run directory or checkpoint (repeatable)")
      ->required();
  cmd->add_option("--host", a->o.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", a->o.port, "Port (0: any free one, printed)")->capture_default_str()->transform(IntegerFor(a->o.port));
  cmd->add_option("--max-batch", a->o.max_batch, "Rows per batch (1: no batching)")
      ->capture_default_str()
      ->transform(IntegerFor(a->o.max_batch));
  cmd->add_option("--max-delay-us", a->o.max_delay_us, "Longest wait of the oldest request for its batch to fill")
      ->capture_default_str()
      ->transform(IntegerFor(a->o.max_delay_us));
  cmd->add_option("--max-queue", a->o.max_queue, "Rows waiting per model before requests get 503")
      ->capture_default_str()
      ->transform(IntegerFor(a->o.max_queue));
  cmd->add_option("--workers", a->o.workers, "Batching threads per model")->capture_default_str()->transform(IntegerFor(a->o.workers));
  cmd->add_option("--http-threads", a->o.http_threads, "Connections served at once")
      ->capture_default_str()
      ->transform(IntegerFor(a->o.http_threads));
  cmd->add_option("--timeout-ms", a->o.timeout_ms, "Default deadline of a request (504 after it)")
      ->capture_default_str()
      ->transform(IntegerFor(a->o.timeout_ms));
  cmd->add_option("--max-body-bytes", a->o.max_body_bytes, "Largest request body (413 beyond)")
      ->capture_default_str()
      ->transform(IntegerFor(a->o.max_body_bytes));
  cmd->add_option("--reload-ms", a->o.reload_poll_ms, "How often model files are checked for changes (0: no reload)")
      ->capture_default_str()
      ->transform(IntegerFor(a->o.reload_poll_ms));
  cmd->add_option("--keep-alive-s", a->o.keep_alive_s, "Idle connections are closed after this many seconds")
      ->capture_default_str()
      ->transform(IntegerFor(a->o.keep_alive_s));
  cmd->add_option("--quantize", a->quantize, "int8: serve int8 weights");
  cmd->add_flag("--quiet", a->o.quiet, "No log lines on stderr");
  cmd->callback([a] { RunServe(*a); });
}

}  // namespace rlforge::cli
