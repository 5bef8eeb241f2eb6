// A policy served by `rlforge serve`, as a Policy: `--policy
// http://HOST:PORT[/v1/models/NAME]` lets eval and play drive an env with it,
// as a game would (binary requests, one per step of the vector of envs).
// Envs with conditional masks (TowerDefense) ask for the action
// probabilities instead (JSON, "outputs") and choose dimension by dimension
// under the env's masks here, as the runtime and rlforge's evaluation do.
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <regex>

#include "rlforge/cli/common.h"
#include "rlforge/core/rng.h"
#include "rlforge/nn/distributions.h"

namespace rlforge::cli {
namespace {

class HttpPolicy : public Policy {
 public:
  HttpPolicy(const std::string& url, const Env& env, uint64_t seed, bool deterministic)
      : obs_space_(env.observation_space()),
        act_space_(env.action_space()),
        masked_(env.has_action_mask()),
        seed_(seed),
        deterministic_(deterministic) {
    static const std::regex re(R"(http://([^/:]+):([0-9]{1,5})(/v1/models/([^/]+)(/act)?)?/?)");
    std::smatch m;
    RLF_CHECK_ARG(std::regex_match(url, m, re), "--policy '", url,
                  "' is not a served policy's URL (http://HOST:PORT or http://HOST:PORT/v1/models/NAME)");
    client_ = std::make_unique<httplib::Client>(m[1].str(), std::stoi(m[2].str()));
    client_->set_keep_alive(true);
    client_->set_tcp_nodelay(true);
    client_->set_connection_timeout(5, 0);
    client_->set_read_timeout(10, 0);
    auto res = client_->Get("/v1/models");
    RLF_CHECK_ARG(res && res->status == 200, "--policy ", url, ": no rlforge server answers there (",
                  res ? StrCat("HTTP ", res->status) : httplib::to_string(res.error()), ")");
    const auto models = nlohmann::json::parse(res->body, nullptr, false);
    RLF_CHECK_ARG(models.is_object() && models.contains("models"), "--policy ", url, ": not an rlforge server");
    const std::string want = m[4].str();
    int64_t obs_size = 0, n_actions = 0;
    try {
      const auto& list = models.at("models");
      const nlohmann::json* found = nullptr;
      for (const auto& model : list)
        if (want.empty() ? list.size() == 1 : model.at("name") == want) found = &model;
      RLF_CHECK_ARG(found, "--policy ", url, ": ",
                    want.empty() ? "the server has several models; name one (/v1/models/NAME)"
                                 : StrCat("the server has no model '", want, "'"));
      name_ = found->at("name").get<std::string>();
      const auto& desc = found->at("model");
      obs_size = desc.at("observation").at("size").get<int64_t>();
      const auto& head = desc.at("head");
      action_size_ = head.at("action_size").get<int64_t>();
      mask_size_ = head.at("mask_size").get<int64_t>();
      box_ = head.at("kind") == "gaussian";
      n_actions = head.value("n", int64_t{0});
      RLF_CHECK_ARG(!desc.contains("core"), "--policy ", url, ": model '", name_,
                    "' is recurrent; a served policy is driven by binary requests, which carry no state "
                    "(evaluate its run directory or .rlf file instead)");
    } catch (const nlohmann::json::exception&) {
      throw InvalidArgument(StrCat("--policy ", url, ": the server's /v1/models is not rlforge's"));
    }
    const int64_t env_actions = act_space_.kind() == SpaceKind::kDiscrete ? 1 : act_space_.size();
    RLF_CHECK_ARG(obs_size == obs_space_.size() && action_size_ == env_actions, "--policy ", url, ": model '", name_,
                  "' takes ", obs_size, " observation values and gives ", action_size_, " action values; ", env.name(),
                  " has ", obs_space_.size(), " and ", env_actions);
    RLF_CHECK_ARG(box_ == (act_space_.kind() == SpaceKind::kBox) &&
                      (box_ || mask_size_ == act_space_.mask_size()) &&
                      (act_space_.kind() != SpaceKind::kDiscrete || n_actions == act_space_.n()),
                  "--policy ", url, ": model '", name_, "' acts in another action space than ", env.name(), "'s ",
                  act_space_.ToString());
    path_ = "/v1/models/" + name_ + "/act";
  }

  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override {
    const int64_t d = obs_space_.size();
    const bool send_masks = masks && masked_ && mask_size_ > 0 && !box_;
    if (conditional_mask_ && act_space_.kind() == SpaceKind::kMultiDiscrete) {
      ActConditional(observations, send_masks ? masks : nullptr, n, actions);
      return;
    }
    std::string body(static_cast<size_t>(n * d) * sizeof(float) + (send_masks ? static_cast<size_t>(n * mask_size_) : 0), '\0');
    auto* f = reinterpret_cast<float*>(body.data());
    for (int64_t i = 0; i < n * d; ++i) f[i] = static_cast<float>(ReadElement(observations, obs_space_.dtype(), i));
    if (send_masks) std::memcpy(body.data() + n * d * sizeof(float), masks, static_cast<size_t>(n * mask_size_));
    std::string query = StrCat("?n=", n, "&masks=", send_masks ? 1 : 0, "&deterministic=", deterministic_ ? 1 : 0);
    if (!deterministic_) query += StrCat("&seed=", seed_ + calls_++);
    const std::string answer = Post(path_ + query, body, "application/octet-stream");
    const size_t values = static_cast<size_t>(n * action_size_);
    RLF_CHECK(answer.size() == values * (box_ ? sizeof(float) : sizeof(int64_t)), "the policy server sent ",
              answer.size(), " bytes for ", n, " actions");
    for (size_t i = 0; i < values; ++i) {
      double v;
      if (box_) {
        float x;
        std::memcpy(&x, answer.data() + i * sizeof(float), sizeof(float));
        v = x;
      } else {
        int64_t x;
        std::memcpy(&x, answer.data() + i * sizeof(int64_t), sizeof(int64_t));
        v = static_cast<double>(x);
      }
      WriteElement(actions, act_space_.dtype(), static_cast<int64_t>(i), v);
    }
  }
  std::string name() const override { return "served '" + name_ + "'"; }

 private:
  // The answer's body; Error when the server does not answer 200.
  std::string Post(const std::string& target, const std::string& body, const char* content_type) {
    auto res = client_->Post(target, body, content_type);
    if (!res) throw Error(StrCat("the policy server did not answer (", httplib::to_string(res.error()), ")"));
    if (res->status != 200) {
      const auto j = nlohmann::json::parse(res->body, nullptr, false);
      throw Error(StrCat("the policy server answered HTTP ", res->status, ": ",
                         j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                                         : res->body));
    }
    return res->body;
  }

  // Each dimension's probabilities (after the flat masks) from the server;
  // the action is drawn here under the env's conditional masks (their log as
  // logits: the same argmax, and the same distribution once renormalized).
  void ActConditional(const void* observations, const uint8_t* masks, int n, void* actions) {
    const int64_t d = obs_space_.size();
    nlohmann::json obs = nlohmann::json::array(), m = nlohmann::json::array();
    for (int64_t i = 0; i < n; ++i) {
      std::vector<float> row(static_cast<size_t>(d));
      for (int64_t j = 0; j < d; ++j) row[j] = static_cast<float>(ReadElement(observations, obs_space_.dtype(), i * d + j));
      obs.push_back(std::move(row));
      if (masks) m.push_back(std::vector<int>(masks + i * mask_size_, masks + (i + 1) * mask_size_));
    }
    nlohmann::json request = {{"observations", std::move(obs)}, {"outputs", true}};
    if (masks) request["masks"] = std::move(m);
    const auto answer = nlohmann::json::parse(Post(path_, request.dump(), "application/json"), nullptr, false);
    const std::vector<int64_t>& nvec = act_space_.nvec();
    std::vector<float> logits(static_cast<size_t>(n * mask_size_));
    std::vector<uint8_t> positive(logits.size());
    try {
      const auto& rows = answer.at("outputs");
      RLF_CHECK(rows.is_array() && static_cast<int64_t>(rows.size()) == n, "the policy server sent ", rows.size(),
                " rows of outputs for ", n);
      for (int64_t i = 0; i < n; ++i) {
        RLF_CHECK(rows[i].is_array() && static_cast<int64_t>(rows[i].size()) == mask_size_, "the policy server sent ",
                  rows[i].size(), " outputs for a row, expected ", mask_size_);
        for (int64_t j = 0; j < mask_size_; ++j) {
          const double p = rows[i][j].get<double>();
          RLF_CHECK(std::isfinite(p) && p >= 0 && p <= 1 + 1e-4, "the policy server sent probability ", p,
                    " (row ", i, ", output ", j, "): not in [0, 1]");
          logits[i * mask_size_ + j] = p > 0 ? static_cast<float>(std::log(p)) : std::numeric_limits<float>::lowest();
          positive[i * mask_size_ + j] = p > 0;
        }
      }
    } catch (const nlohmann::json::exception&) {
      throw Error("the policy server's answer has no outputs of the request's rows");
    }
    // A dimension whose legal values all have probability 0 (float32
    // underflow) cannot be chosen from probabilities: say so, not the first.
    ConditionalMaskFn checked = [&](int row, const int64_t* prefix, int dim, uint8_t* mask) {
      conditional_mask_(row, prefix, dim, mask);
      int64_t offset = 0;
      for (int d = 0; d < dim; ++d) offset += nvec[d];
      const uint8_t* pos = positive.data() + row * mask_size_ + offset;
      bool any_legal = false, any_weight = false;
      for (int64_t v = 0; v < nvec[dim]; ++v) any_legal |= mask[v] != 0, any_weight |= mask[v] && pos[v];
      RLF_CHECK(!any_legal || any_weight, "the served probabilities give every legal value of action dimension ", dim,
                " weight 0 (float32 underflow): evaluate the run directory or .rlf file instead");
    };
    const int64_t k = static_cast<int64_t>(nvec.size());
    std::vector<float> u;
    if (!deterministic_) {
      Rng rng(seed_ + calls_++);
      // In [0, 1) as floats too (a double just below 1 rounds to 1.0f).
      for (int64_t i = 0; i < n * k; ++i) u.push_back(std::min(static_cast<float>(rng.Uniform()), 0x1.fffffep-1f));
    }
    std::vector<int64_t> chosen(static_cast<size_t>(n * k));
    ConditionalMultiCategorical(logits.data(), n, nvec, checked, deterministic_ ? nullptr : u.data(), chosen.data(),
                                nullptr, nullptr);
    for (int64_t i = 0; i < n * k; ++i) WriteElement(actions, act_space_.dtype(), i, static_cast<double>(chosen[i]));
  }

  Space obs_space_, act_space_;
  bool masked_;
  uint64_t seed_, calls_ = 0;
  bool deterministic_;
  std::unique_ptr<httplib::Client> client_;
  std::string name_, path_;
  int64_t action_size_ = 0, mask_size_ = 0;
  bool box_ = false;
};

}  // namespace

bool IsServedPolicy(const std::string& spec) { return spec.rfind("http://", 0) == 0; }

std::unique_ptr<Policy> MakeServedPolicy(const std::string& url, const Env& env, uint64_t seed, bool deterministic) {
  return std::make_unique<HttpPolicy>(url, env, seed, deterministic);
}

}  // namespace rlforge::cli
