#include "rlforge/data/inspect.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "rlforge/core/error.h"
#include "rlforge/data/jpeg.h"
#include "rlforge/env/image_io.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/transition_model.h"

namespace rlforge {

namespace {

constexpr int kBins = 20;
constexpr double kSingleActionShare = 0.95;
constexpr double kDuplicateShare = 0.01;
constexpr int64_t kMaxCorrelated = 64;

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::string Fixed(double v, int digits = 3) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// The categorical dimensions of an action space: class counts per dimension,
// and a function from an action to its class in dimension k.
std::vector<int64_t> CategoricalSizes(const Space& s) {
  switch (s.kind()) {
    case SpaceKind::kDiscrete: return {s.n()};
    case SpaceKind::kMultiDiscrete: return s.nvec();
    case SpaceKind::kMultiBinary: return std::vector<int64_t>(static_cast<size_t>(s.size()), 2);
    default: return {};
  }
}

// Dynamics with one outcome for every state and action (non-slippery
// FrozenLake, Taxi, CliffWalking): a replay that starts where an episode did
// follows it whoever recorded it, so a difference is a real one.
bool DeterministicDynamics(const Env& env) {
  const TransitionModel* m = env.transition_model();
  if (m == nullptr) return false;
  for (int64_t s = 0; s < m->num_states(); ++s)
    for (int64_t a = 0; a < m->num_actions(); ++a) {
      int outcomes = 0;
      for (const Transition& t : m->Outcomes(s, a)) outcomes += t.prob > 0;
      if (outcomes != 1) return false;
    }
  return true;
}

void Replay(const Dataset& d, int64_t max_episodes, DatasetReport* r) {
  const DatasetInfo& info = d.info;
  if (max_episodes <= 0) {
    r->replay_note = "not replayed (--replay-episodes 0)";
    return;
  }
  if (info.env_id.empty() || !Registry::Global().Has(info.env_id)) {
    r->replay_note = info.env_id.empty() ? "not replayed: the metadata names no env"
                                         : "not replayed: env " + info.env_id + " is not an rlforge env";
    return;
  }
  std::unique_ptr<Env> env;
  try {
    env = Registry::Global().Make(info.env_id, info.env_kwargs);
  } catch (const Error& e) {
    r->replay_note = StrCat("not replayed: ", e.what());
    return;
  }
  if (env->observation_space() != info.observation_space || env->action_space() != info.action_space) {
    r->replay_note = "not replayed: the env's spaces differ from the dataset's";
    return;
  }
  const bool deterministic = DeterministicDynamics(*env);
  const size_t ob = static_cast<size_t>(d.obs_bytes);
  const Space& os = info.observation_space;
  const bool floats = os.dtype() == DType::kFloat32 || os.dtype() == DType::kFloat64;
  // Image frames stored as JPEG (rlforge's and today's Minari's datasets)
  // are compared as they read back; raw ones (older datasets) as they are.
  const bool image = IsMinariImageSpace(os);
  std::vector<uint8_t> obs(ob), frame(ob);
  int64_t from_observation = 0, seeded = 0;
  for (int64_t e = 0; e < d.episodes() && r->replayed < max_episodes; ++e) {
    if (d.episode_seed[e] < 0) continue;
    ++seeded;
    Info reset_info;
    env->Reset(static_cast<uint64_t>(d.episode_seed[e]), obs.data(), &reset_info);
    const int64_t t0 = d.episode_first_step[e];
    bool jpeg = false;
    if (image && std::memcmp(obs.data(), d.observation(d.row[t0]), ob) != 0) {
      frame = obs;
      JpegRoundTrip(os, frame.data());
      if (std::memcmp(frame.data(), d.observation(d.row[t0]), ob) == 0) jpeg = true, obs = frame;
    }
    // Another recorder's seeding (Gymnasium's numpy generator) starts
    // elsewhere: envs whose observation is their state start from the recorded
    // one. The state is then rounded to the observation's precision, so such
    // replays compare the first kApproxSteps steps within a tolerance. Not
    // for a toy-text env with random outcomes: its later draws would be
    // rlforge's, not the recorder's (rainy Taxi replayed so was flagged a
    // mismatch). Classic control's dynamics are deterministic.
    bool approx = false;
    if (std::memcmp(obs.data(), d.observation(d.row[t0]), ob) != 0) {
      const bool random_outcomes = env->transition_model() != nullptr && !deterministic;
      if (random_outcomes || !env->SetFromObservation(d.observation(d.row[t0]))) continue;
      approx = true;
      ++from_observation;
    }
    ++r->replayed;
    constexpr int64_t kApproxSteps = 50;
    auto same_obs = [&](const uint8_t* recorded) {
      if (!approx || !floats) return std::memcmp(obs.data(), recorded, ob) == 0;
      for (int64_t i = 0; i < os.size(); ++i) {
        const double a = ReadElement(obs.data(), os.dtype(), i), b = ReadElement(recorded, os.dtype(), i);
        if (!(std::fabs(a - b) <= 1e-4 * std::max(1.0, std::fabs(b)))) return false;
      }
      return true;
    };
    std::string mismatch;
    const int64_t steps = approx ? std::min(d.episode_length(e), kApproxSteps) : d.episode_length(e);
    try {
      for (int64_t t = t0; t < t0 + steps && mismatch.empty(); ++t) {
        const std::string bad = info.action_space.WhyNotContained(d.action(t));
        if (!bad.empty()) {
          mismatch = StrCat("the action of step ", t - t0, " (", bad, ")");
          break;
        }
        const StepResult s = env->Step(d.action(t), obs.data());
        if (jpeg) JpegRoundTrip(os, obs.data());
        const double tol = 1e-6 * std::max(1.0, std::fabs(s.reward));
        const bool last = t + 1 == t0 + d.episode_length(e);
        if (!(std::fabs(static_cast<double>(static_cast<float>(s.reward)) - d.rewards[t]) <= tol))
          mismatch = StrCat("the reward of step ", t - t0, " (env ", s.reward, ", data ", d.rewards[t], ")");
        else if (s.terminated != (d.terminated[t] != 0) || (!approx && s.truncated != (d.truncated[t] != 0)))
          mismatch = StrCat("how step ", t - t0, " ended");
        else if (!same_obs(d.observation(d.row[t] + 1)))
          mismatch = StrCat("the observation after step ", t - t0);
        else if ((s.terminated || s.truncated) && !last)
          break;  // the env's episode ended (a time limit the recorder did not have): nothing more to compare
      }
    } catch (const Error& err) {  // the env refused a recorded action
      mismatch = StrCat("stepping it (", err.what(), ")");
    }
    if (!mismatch.empty()) {
      if (r->replay_mismatches++ == 0) r->replay_note = StrCat("episode ", e, ": ", mismatch, " differs from the env's");
      // Another library's episode that rlforge's own seeding reproduced at
      // its start: a stochastic env's later draws came from that library's
      // generator, so a difference proves nothing (a deterministic env's does).
      if (info.foreign_env_spec && !approx && !deterministic) ++r->replay_unverifiable;
    }
  }
  if (from_observation > 0 && r->replay_note.empty())
    r->replay_note = StrCat(from_observation, " episodes started from their recorded first observation (the "
                            "recorder seeded differently); their first 50 steps compared within 1e-4");
  if (r->replayed == 0)
    r->replay_note = seeded == 0 ? "not replayed: no episode records its reset seed"
                                 : StrCat("not replayed: ", seeded, " seeded episodes start from another first "
                                          "observation than the env's reset, and the env cannot start from one");
}

}  // namespace

bool DatasetReport::has_flag(const std::string& code) const {
  return std::any_of(flags.begin(), flags.end(), [&](const Flag& f) { return f.code == code; });
}

DatasetReport InspectDataset(const std::string& dir, const InspectOptions& options) {
  DatasetReport r;
  r.data = ReadDataset(dir, &r.problems);
  const Dataset& d = r.data;
  const Space& os = d.info.observation_space;
  const Space& as = d.info.action_space;
  auto flag = [&](const std::string& code, const std::string& message) { r.flags.push_back({code, message}); };
  for (const auto& p : r.problems)
    flag(p.find("missing field") != std::string::npos ? "missing_field" : "malformed", p);
  // What metadata.json says wrongly leaves no episode out: not counted as damage.
  const std::string meta = (std::filesystem::path(dir) / "metadata.json").string() + ":";
  const auto is_meta = [&](const std::string& p) { return p.rfind(meta, 0) == 0; };
  std::copy_if(r.problems.begin(), r.problems.end(), std::back_inserter(r.metadata_problems), is_meta);
  r.problems.erase(std::remove_if(r.problems.begin(), r.problems.end(), is_meta), r.problems.end());
  if (d.episodes() == 0) flag("empty", "the dataset holds no episodes: there is nothing to learn from");

  // ---- completeness
  for (int64_t e = 0; e < d.episodes(); ++e) {
    const int64_t last = d.episode_first_step[e] + d.episode_length(e) - 1;
    if (d.terminated[last]) ++r.terminated_episodes;
    else if (d.truncated[last]) ++r.truncated_episodes;
    else ++r.unfinished_episodes;
  }
  const int64_t F = os.size();
  // Statistics per observation element, or per channel for image frames
  // (millions of pixels tell nothing one by one); two streaming passes, so
  // memory stays O(elements) whatever the dataset's size.
  const bool image = IsMinariImageSpace(os);
  const int64_t channels = image ? ImageFrameShape(os).channels : 0;
  const int64_t G = image ? channels : F;
  auto group = [&](int64_t i) { return image ? i % channels : i; };
  r.features_per_channel = image;
  r.features.assign(static_cast<size_t>(G), {});
  std::vector<double> sum(static_cast<size_t>(G), 0), sum_sq(static_cast<size_t>(G), 0);
  std::vector<int64_t> count(static_cast<size_t>(G), 0);
  for (auto& f : r.features) f.min = INFINITY, f.max = -INFINITY;
  for (int64_t row = 0; row < d.rows(); ++row) {
    const uint8_t* o = d.observation(row);
    bool bad = false;
    for (int64_t i = 0; i < F; ++i) {
      const double v = ReadElement(o, os.dtype(), i);
      const int64_t g = group(i);
      auto& f = r.features[g];
      if (!std::isfinite(v)) {
        ++f.non_finite;
        bad = true;
        continue;
      }
      f.min = std::min(f.min, v), f.max = std::max(f.max, v);
      sum[g] += v, sum_sq[g] += v * v, ++count[g];
    }
    r.non_finite_obs += bad;
    if (!bad && !os.Contains(o)) ++r.out_of_space_obs;
  }
  for (int64_t t = 0; t < d.steps(); ++t) {
    if (!std::isfinite(d.rewards[t])) ++r.non_finite_rewards;
    // Only float actions can be non-finite; an integer outside the space is
    // out of it.
    if (as.kind() == SpaceKind::kBox && !as.WhyNotFinite(d.action(t)).empty()) ++r.non_finite_actions;
    else if (!as.Contains(d.action(t))) ++r.out_of_space_actions;
  }
  if (r.non_finite_obs + r.non_finite_actions + r.non_finite_rewards > 0)
    flag("non_finite", StrCat(r.non_finite_obs, " observations, ", r.non_finite_actions, " actions and ",
                              r.non_finite_rewards, " rewards hold NaN or infinite values"));
  if (r.out_of_space_obs + r.out_of_space_actions > 0)
    flag("out_of_space", StrCat(r.out_of_space_obs, " observations and ", r.out_of_space_actions,
                                " actions lie outside their spaces"));
  // An episode ends at its last step only: a step marked terminated or
  // truncated before it is a recording error (learners would cut the
  // return there and go on as if nothing had happened).
  int64_t early_ends = 0;
  for (int64_t e = 0; e < d.episodes(); ++e)
    for (int64_t t = d.episode_first_step[e]; t + 1 < d.episode_first_step[e] + d.episode_length(e); ++t)
      early_ends += d.terminated[t] || d.truncated[t];
  if (early_ends > 0)
    flag("early_end", StrCat(early_ends, " steps are marked terminated or truncated before their episode's last step"));
  // Masks: every stored mask must leave a legal value in each action
  // dimension (train refuses one that does not), and the recorded action
  // must be legal under its mask.
  const std::vector<int64_t> dims = CategoricalSizes(as);
  if (d.mask_size > 0 && !dims.empty()) {
    int64_t no_legal = 0, illegal = 0;
    for (int64_t row = 0; row < d.rows(); ++row) {
      const uint8_t* m = d.masks.data() + row * d.mask_size;
      int64_t o = 0;
      for (int64_t size : dims) {
        if (std::none_of(m + o, m + o + size, [](uint8_t b) { return b != 0; })) {
          ++no_legal;
          break;
        }
        o += size;
      }
    }
    for (int64_t t = 0; t < d.steps(); ++t) {
      if (!as.Contains(d.action(t))) continue;
      const uint8_t* m = d.masks.data() + d.row[t] * d.mask_size;
      int64_t o = 0;
      for (size_t k = 0; k < dims.size(); o += dims[k], ++k) {
        int64_t v = static_cast<int64_t>(ReadElement(d.action(t), as.dtype(), static_cast<int64_t>(k)));
        if (as.kind() == SpaceKind::kDiscrete) v -= as.start();
        if (o + v < d.mask_size && !m[o + v]) {
          ++illegal;
          break;
        }
      }
    }
    if (no_legal > 0)
      flag("no_legal_action", StrCat(no_legal, " observations' masks leave no legal value in some action dimension"));
    if (illegal > 0) flag("illegal_action", StrCat(illegal, " actions are illegal under their step's mask"));
  } else if (as.mask_size() > 0 && !d.info.env_id.empty() && Registry::Global().Has(d.info.env_id)) {
    try {
      if (Registry::Global().Make(d.info.env_id, d.info.env_kwargs)->has_action_mask())
        flag("no_masks", StrCat(d.info.env_id, " has action masks, but the dataset stores none (infos/action_mask): "
                                "learners see every action as legal"));
    } catch (const Error&) {
    }
  }
  if (r.unfinished_episodes > 0)
    flag("unfinished_episodes", StrCat(r.unfinished_episodes, " episodes end neither terminated nor truncated"));

  // ---- representativeness
  std::vector<std::vector<char>> seen(static_cast<size_t>(G), std::vector<char>(kBins, 0));
  for (int64_t g = 0; g < G; ++g) {
    auto& f = r.features[g];
    if (count[g] == 0) {
      f.min = f.max = 0;
      continue;
    }
    f.mean = sum[g] / count[g];
    f.std = std::sqrt(std::max(0.0, sum_sq[g] / count[g] - f.mean * f.mean));
  }
  for (int64_t row = 0; row < d.rows(); ++row) {
    const uint8_t* o = d.observation(row);
    for (int64_t i = 0; i < F; ++i) {
      const double v = ReadElement(o, os.dtype(), i);
      const int64_t g = group(i);
      const auto& f = r.features[g];
      if (!std::isfinite(v) || !(f.max > f.min)) continue;
      seen[g][std::min(kBins - 1, static_cast<int>((v - f.min) / (f.max - f.min) * kBins))] = 1;
    }
  }
  for (int64_t g = 0; g < G; ++g)
    if (r.features[g].max > r.features[g].min)
      r.features[g].coverage = std::count(seen[g].begin(), seen[g].end(), 1) / static_cast<double>(kBins);
  r.returns = d.EpisodeReturns();
  for (int64_t e = 0; e < d.episodes(); ++e) r.lengths.push_back(d.episode_length(e));
  for (double x : r.returns) r.mean_return += x / static_cast<double>(r.returns.size());
  if (r.returns.empty()) r.mean_return = std::nan("");  // none (JSON null), not 0
  if (const std::string bad = WhyBadReferenceScores(d.info); !bad.empty()) flag("bad_reference_scores", bad);
  else if (d.info.ref_min_score && d.info.ref_max_score && !r.returns.empty())
    r.normalized_score = (r.mean_return - *d.info.ref_min_score) / (*d.info.ref_max_score - *d.info.ref_min_score);

  // ---- diversity
  const std::vector<int64_t> sizes = CategoricalSizes(as);
  if (!sizes.empty()) {
    for (size_t k = 0; k < sizes.size(); ++k) {
      DatasetReport::ActionDim a;
      a.counts.assign(static_cast<size_t>(sizes[k]), 0);
      int64_t in_space = 0;  // values outside the space are out_of_space's, not a class
      for (int64_t t = 0; t < d.steps(); ++t) {
        int64_t v = static_cast<int64_t>(ReadElement(d.action(t), as.dtype(), static_cast<int64_t>(k)));
        if (as.kind() == SpaceKind::kDiscrete) v -= as.start();
        if (v >= 0 && v < sizes[k]) ++a.counts[v], ++in_space;
      }
      const double n = static_cast<double>(std::max<int64_t>(1, in_space));
      double h = 0;
      for (int64_t c : a.counts) {
        a.top_share = std::max(a.top_share, c / n);
        if (c > 0) h -= (c / n) * std::log(c / n);
      }
      a.entropy_ratio = sizes[k] > 1 ? h / std::log(static_cast<double>(sizes[k])) : 0.0;
      if (sizes[k] > 1 && d.steps() >= 20 && a.top_share > kSingleActionShare)
        flag("single_action", StrCat("action dimension ", k, ": one value takes ", Fixed(100 * a.top_share, 1),
                                     "% of the steps (the behaviour barely varies; cloning it learns that value)"));
      r.actions.push_back(std::move(a));
    }
  } else {
    for (int64_t k = 0; k < as.size(); ++k) {
      DatasetReport::ActionDim a;
      double s = 0, ss = 0;
      int64_t finite = 0;  // non-finite values are non_finite's, not part of the spread
      for (int64_t t = 0; t < d.steps(); ++t) {
        const double v = ReadElement(d.action(t), as.dtype(), k);
        if (!std::isfinite(v)) continue;
        s += v, ss += v * v, ++finite;
      }
      const double n = static_cast<double>(std::max<int64_t>(1, finite));
      a.mean = s / n;
      a.std = std::sqrt(std::max(0.0, ss / n - a.mean * a.mean));
      if (finite >= 20 && a.std == 0)
        flag("single_action", StrCat("action dimension ", k, " is constant (", a.mean, ")"));
      r.actions.push_back(a);
    }
  }
  std::unordered_set<uint64_t> transitions;
  for (int64_t t = 0; t < d.steps(); ++t) {
    uint64_t h = HashBytes(d.observation(d.row[t]), d.obs_bytes);
    h = HashBytes(d.action(t), d.act_bytes, h);
    h = HashBytes(&d.rewards[t], sizeof(double), h);
    h = HashBytes(d.observation(d.row[t] + 1), d.obs_bytes, h);
    if (!transitions.insert(h).second) ++r.duplicate_transitions;
  }
  std::unordered_map<uint64_t, int64_t> episodes;
  for (int64_t e = 0; e < d.episodes(); ++e) {
    const int64_t t0 = d.episode_first_step[e], T = d.episode_length(e);
    uint64_t h = HashBytes(d.observation(d.row[t0]), (T + 1) * d.obs_bytes);
    h = HashBytes(d.action(t0), T * d.act_bytes, h);
    h = HashBytes(&d.rewards[t0], T * sizeof(double), h);
    if (episodes[h]++ > 0) ++r.duplicate_episodes;
  }
  if (r.duplicate_episodes > 0)
    flag("duplicate_episodes", StrCat(r.duplicate_episodes, " of ", d.episodes(),
                                      " episodes repeat an earlier one exactly (same observations, actions, rewards)"));
  if (d.steps() > 0 && r.duplicate_transitions > kDuplicateShare * d.steps())
    flag("duplicate_transitions", StrCat(r.duplicate_transitions, " of ", d.steps(), " transitions (",
                                         Fixed(100.0 * r.duplicate_transitions / d.steps(), 1),
                                         "%) repeat an earlier one"));

  // ---- accuracy
  Replay(d, options.replay_episodes, &r);
  // Another recorder's episodes of a stochastic env (slippery FrozenLake)
  // cannot be replayed: its draws came from Gymnasium's generator. Those
  // mismatches are said (accuracy line), not flagged; episodes replayed from
  // their recorded first observation (deterministic classic control) are.
  if (r.replay_mismatches > r.replay_unverifiable)
    flag("replay_mismatch", StrCat(r.replay_mismatches, " of ", r.replayed, " replayed episodes differ from the env (",
                                   r.replay_note, ")"));

  // ---- correlation (observation features and the reward, per step)
  if (F <= kMaxCorrelated && d.steps() > 1) {
    const int64_t k = F + 1;
    std::vector<double> mean(k, 0), m2(k * k, 0);
    std::vector<double> x(k);
    int64_t n = 0;
    for (int64_t t = 0; t < d.steps(); ++t) {
      bool ok = std::isfinite(d.rewards[t]);
      for (int64_t i = 0; i < F && ok; ++i) ok = std::isfinite(x[i] = ReadElement(d.observation(d.row[t]), os.dtype(), i));
      if (!ok) continue;
      x[F] = d.rewards[t];
      ++n;
      for (int64_t i = 0; i < k; ++i) mean[i] += x[i];
    }
    for (auto& m : mean) m /= std::max<int64_t>(n, 1);
    for (int64_t t = 0; t < d.steps(); ++t) {
      bool ok = std::isfinite(d.rewards[t]);
      for (int64_t i = 0; i < F && ok; ++i) ok = std::isfinite(x[i] = ReadElement(d.observation(d.row[t]), os.dtype(), i));
      if (!ok) continue;
      x[F] = d.rewards[t];
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) m2[i * k + j] += (x[i] - mean[i]) * (x[j] - mean[j]);
    }
    r.correlation.assign(k, std::vector<double>(k, std::nan("")));
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const double den = std::sqrt(m2[i * k + i] * m2[j * k + j]);
        if (den > 0) r.correlation[i][j] = m2[i * k + j] / den;
      }
    auto name = [&](int64_t i) { return i == F ? std::string("reward") : "obs[" + std::to_string(i) + "]"; };
    for (int64_t i = 0; i < k; ++i) {
      if (m2[i * k + i] == 0 && i < F) r.constant_features.push_back(name(i));
      for (int64_t j = i + 1; j < k; ++j)
        if (std::fabs(r.correlation[i][j]) >= 0.95)
          r.correlated_pairs.push_back(StrCat(name(i), " ~ ", name(j), " (r = ", Fixed(r.correlation[i][j]), ")"));
    }
  }
  return r;
}

std::string DatasetReport::ToText() const {
  const Dataset& d = data;
  std::string s;
  auto line = [&](const std::string& x) { s += x + "\n"; };
  line(StrCat("dataset ", d.info.dataset_id.empty() ? "(no id)" : d.info.dataset_id, ": ", d.episodes(),
              " episodes, ", d.steps(), " steps of ", d.info.env_id.empty() ? "(no env)" : d.info.env_id,
              " by ", d.info.algorithm_name.empty() ? "(unknown)" : d.info.algorithm_name));
  line(StrCat("  observation space ", d.info.observation_space.ToString(), ", action space ",
              d.info.action_space.ToString(), d.mask_size ? ", action masks in infos" : ""));
  if (!d.info.ignored_kwargs.empty())
    line(StrCat("  env_spec kwargs rlforge's ", d.info.env_id, " does not take (ignored): ",
                Join(d.info.ignored_kwargs, ", ")));
  line("completeness");
  line(StrCat("  episodes: ", terminated_episodes, " terminated, ", truncated_episodes, " truncated, ",
              unfinished_episodes, " unfinished; ", problems.size(), " damaged (left out)"));
  line(StrCat("  non-finite: ", non_finite_obs, " observations, ", non_finite_actions, " actions, ",
              non_finite_rewards, " rewards; outside the spaces: ", out_of_space_obs, " observations, ",
              out_of_space_actions, " actions"));
  line("representativeness");
  if (returns.empty())
    line("  return: (no episodes)");
  else
    line(StrCat("  return: mean ", Fixed(mean_return), ", min ", Fixed(Quantile(returns, 0)), ", p25 ",
                Fixed(Quantile(returns, 0.25)), ", median ", Fixed(Quantile(returns, 0.5)), ", p75 ",
                Fixed(Quantile(returns, 0.75)), ", max ", Fixed(Quantile(returns, 1))));
  std::vector<double> lens(lengths.begin(), lengths.end());
  line(StrCat("  length: min ", Fixed(Quantile(lens, 0), 0), ", median ", Fixed(Quantile(lens, 0.5), 0), ", max ",
              Fixed(Quantile(lens, 1), 0)));
  const size_t shown = std::min<size_t>(features.size(), 16);
  for (size_t i = 0; i < shown; ++i) {
    const auto& f = features[i];
    line(StrCat("  ", features_per_channel ? StrCat("image channel ", i, " (all pixels)") : StrCat("obs[", i, "]"),
                ": range [", Fixed(f.min), ", ", Fixed(f.max), "], mean ", Fixed(f.mean), ", std ", Fixed(f.std),
                ", coverage ", Fixed(100 * f.coverage, 0), "% of ", kBins, " bins"));
  }
  if (features.size() > shown) line(StrCat("  ... ", features.size() - shown, " more features (see --json)"));
  line("diversity");
  for (size_t k = 0; k < actions.size(); ++k) {
    const auto& a = actions[k];
    if (!a.counts.empty()) {
      std::string counts;
      for (size_t c = 0; c < a.counts.size() && c < 12; ++c) counts += (c ? " " : "") + std::to_string(a.counts[c]);
      if (a.counts.size() > 12) counts += " ...";
      line(StrCat("  action[", k, "]: counts ", counts, "; largest share ", Fixed(100 * a.top_share, 1),
                  "%, entropy ", Fixed(a.entropy_ratio), " of the maximum"));
    } else {
      line(StrCat("  action[", k, "]: mean ", Fixed(a.mean), ", std ", Fixed(a.std)));
    }
  }
  line(StrCat("  duplicated transitions ", duplicate_transitions, ", duplicated episodes ", duplicate_episodes));
  line("accuracy");
  line(StrCat("  replayed ", replayed, " episodes from their seeds: ", replay_mismatches, " differ",
              replay_note.empty() ? "" : " (" + replay_note + ")",
              replay_unverifiable > 0
                  ? StrCat("; ", replay_unverifiable, " of them not flagged: another library recorded them, and a "
                           "stochastic env's draws came from its generator")
                  : ""));
  line("correlation");
  if (correlation.empty())
    line(d.info.observation_space.size() > kMaxCorrelated ? "  (not computed: more than 64 features)"
                                                          : "  (not computed: fewer than 2 steps)");
  line(StrCat("  |r| >= 0.95: ", correlated_pairs.empty() ? "none" : ""));
  for (const auto& p : correlated_pairs) line("    " + p);
  if (!constant_features.empty()) {
    std::string c;
    for (const auto& f : constant_features) c += (c.empty() ? "" : ", ") + f;
    line("  constant: " + c);
  }
  line("score");
  line(returns.empty()
           ? std::string("  behaviour mean return (no episodes)")
           : StrCat("  behaviour mean return ", Fixed(mean_return),
                    normalized_score ? StrCat(", normalized ", Fixed(*normalized_score), " (reference min ",
                                              Fixed(*d.info.ref_min_score), ", max ", Fixed(*d.info.ref_max_score), ")")
                                     : " (no reference scores in the metadata)"));
  line(flags.empty() ? "flags: none" : StrCat("flags: ", flags.size()));
  for (const auto& f : flags) line(StrCat("  FLAG ", f.code, ": ", f.message));
  return s;
}

std::string DatasetReport::ToJson() const {
  using json = nlohmann::json;
  const Dataset& d = data;
  auto num = [](double v) -> json { return std::isfinite(v) ? json(v) : json(nullptr); };
  json j;
  j["dataset_id"] = d.info.dataset_id;
  j["env_id"] = d.info.env_id;
  j["episodes"] = d.episodes();
  j["steps"] = d.steps();
  j["observation_space"] = d.info.observation_space.ToString();
  j["action_space"] = d.info.action_space.ToString();
  j["completeness"] = {{"terminated_episodes", terminated_episodes}, {"truncated_episodes", truncated_episodes},
                       {"unfinished_episodes", unfinished_episodes}, {"damaged_episodes", problems},
                       {"metadata_problems", metadata_problems},
                       {"non_finite_observations", non_finite_obs}, {"non_finite_actions", non_finite_actions},
                       {"non_finite_rewards", non_finite_rewards}, {"out_of_space_observations", out_of_space_obs},
                       {"out_of_space_actions", out_of_space_actions}};
  json feats = json::array();
  for (const auto& f : features)
    feats.push_back({{"min", num(f.min)}, {"max", num(f.max)}, {"mean", num(f.mean)}, {"std", num(f.std)},
                     {"coverage", f.coverage}, {"non_finite", f.non_finite}});
  std::vector<double> lens(lengths.begin(), lengths.end());
  j["representativeness"] = {
      {"features", feats},
      {"features_are", features_per_channel ? "image channels (all pixels of each)" : "observation elements"},
      {"return", {{"mean", num(mean_return)}, {"min", num(Quantile(returns, 0))}, {"p25", num(Quantile(returns, 0.25))},
                  {"median", num(Quantile(returns, 0.5))}, {"p75", num(Quantile(returns, 0.75))},
                  {"max", num(Quantile(returns, 1))}}},
      {"length", {{"min", num(Quantile(lens, 0))}, {"median", num(Quantile(lens, 0.5))}, {"max", num(Quantile(lens, 1))}}}};
  json acts = json::array();
  for (const auto& a : actions) {
    if (!a.counts.empty())
      acts.push_back({{"counts", a.counts}, {"top_share", a.top_share}, {"entropy_ratio", a.entropy_ratio}});
    else
      acts.push_back({{"mean", num(a.mean)}, {"std", num(a.std)}});
  }
  j["diversity"] = {{"actions", acts}, {"duplicate_transitions", duplicate_transitions},
                    {"duplicate_episodes", duplicate_episodes}};
  j["accuracy"] = {{"replayed", replayed},
                   {"mismatches", replay_mismatches},
                   {"unverifiable", replay_unverifiable},
                   {"note", replay_note}};
  json corr = json::array();
  for (const auto& row : correlation) {
    json r = json::array();
    for (double v : row) r.push_back(num(v));
    corr.push_back(r);
  }
  j["correlation"] = {{"matrix", corr}, {"high_pairs", correlated_pairs}, {"constant_features", constant_features}};
  j["score"] = {{"mean_return", num(mean_return)},
                {"ref_min_score", d.info.ref_min_score ? json(*d.info.ref_min_score) : json(nullptr)},
                {"ref_max_score", d.info.ref_max_score ? json(*d.info.ref_max_score) : json(nullptr)},
                {"normalized_score", normalized_score ? json(*normalized_score) : json(nullptr)}};
  json fl = json::array();
  for (const auto& f : flags) fl.push_back({{"code", f.code}, {"message", f.message}});
  j["flags"] = fl;
  return j.dump(2) + "\n";
}

namespace {

// Bars of `values` in the panel (x0, y0)-(x1, y1), with a title.
void Bars(Image* img, double x0, double y0, double x1, double y1, const std::vector<double>& values,
          const std::string& title) {
  const Rgb axis{60, 60, 60}, bar{70, 120, 200};
  DrawText(img, x0, y0, title, axis, 1.0);
  const double top = y0 + 16, bottom = y1 - 4;
  img->DrawLine(x0, bottom, x1, bottom, 1, axis);
  if (values.empty()) return;
  double hi = *std::max_element(values.begin(), values.end());
  if (!(hi > 0)) hi = 1;
  const double w = (x1 - x0) / static_cast<double>(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const double h = std::isfinite(values[i]) ? values[i] / hi * (bottom - top) : 0;
    img->FillRect(x0 + i * w + 1, bottom - h, x0 + (i + 1) * w - 1, bottom, bar);
  }
}

std::vector<double> Histogram(const std::vector<double>& v, int bins) {
  std::vector<double> h(static_cast<size_t>(bins), 0);
  if (v.empty()) return h;
  const double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    const int b = hi > lo ? std::min(bins - 1, static_cast<int>((x - lo) / (hi - lo) * bins)) : 0;
    h[b] += 1;
  }
  return h;
}

}  // namespace

Image PlotReport(const DatasetReport& r) {
  Image img(960, 640);
  std::vector<double> lens(r.lengths.begin(), r.lengths.end());
  Bars(&img, 20, 10, 470, 310, Histogram(r.returns, 30),
       StrCat("episode returns (", Fixed(Quantile(r.returns, 0), 1), " .. ", Fixed(Quantile(r.returns, 1), 1), ")"));
  Bars(&img, 490, 10, 940, 310, Histogram(lens, 30),
       StrCat("episode lengths (", Fixed(Quantile(lens, 0), 0), " .. ", Fixed(Quantile(lens, 1), 0), ")"));
  std::vector<double> counts;
  std::string title = "action counts";
  if (!r.actions.empty() && !r.actions[0].counts.empty()) {
    for (size_t k = 0; k < r.actions.size(); ++k)
      for (int64_t c : r.actions[k].counts) counts.push_back(static_cast<double>(c));
    title += " (every dimension, in order)";
  } else {
    for (const auto& a : r.actions) counts.push_back(a.std);
    title = "action std per dimension";
  }
  Bars(&img, 20, 330, 470, 630, counts, title);
  std::vector<double> coverage;
  for (size_t i = 0; i < r.features.size() && i < 128; ++i) coverage.push_back(r.features[i].coverage);
  Bars(&img, 490, 330, 940, 630, coverage, "observation features: share of bins visited");
  return img;
}

}  // namespace rlforge
