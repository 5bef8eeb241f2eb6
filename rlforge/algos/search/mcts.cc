#include "rlforge/algos/search/mcts.h"

#include <algorithm>
#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge::search {
namespace {

// Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 through
// Gamma(shape + 1) · U^(1 / shape).
double SampleGamma(double shape, Rng& rng) {
  if (shape < 1.0) {
    double u = rng.Uniform();
    while (u <= 0.0) u = rng.Uniform();
    return SampleGamma(shape + 1.0, rng) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = rng.Normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = rng.Uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

}  // namespace

Mcts::Mcts(const MctsConfig& config) : config_(config) {
  RLF_CHECK_ARG(config.simulations >= 1, "mcts: simulations must be >= 1, got ", config.simulations);
  RLF_CHECK_ARG(config.batch_size >= 1, "mcts: batch_size must be >= 1, got ", config.batch_size);
  RLF_CHECK_ARG(config.discount > 0 && config.discount <= 1, "mcts: discount must be in (0, 1], got ",
                config.discount);
  RLF_CHECK_ARG(config.noise_fraction >= 0 && config.noise_fraction <= 1,
                "mcts: noise_fraction must be in [0, 1], got ", config.noise_fraction);
  RLF_CHECK_ARG(config.dirichlet_alpha > 0, "mcts: dirichlet_alpha must be > 0, got ", config.dirichlet_alpha);
}

void Mcts::Clear() {
  nodes_.clear();
  root_ = -1;
  minmax_.Reset();
}

void Mcts::SetRoot(const NodeEval& root) {
  Clear();
  num_actions_ = static_cast<int>(root.priors.size());
  nodes_.reserve(static_cast<size_t>(config_.simulations + 1) * (num_actions_ + 1));
  nodes_.emplace_back();
  root_ = 0;
  ExpandNode(root_, root);
  Backup(root_, root.terminal ? 0.0 : root.value);
}

void Mcts::ExpandNode(int node, const NodeEval& eval) {
  RLF_CHECK(eval.terminal || static_cast<int>(eval.priors.size()) == num_actions_,
            "mcts: the model gave ", eval.priors.size(), " priors; expected ", num_actions_);
  const int first = static_cast<int>(nodes_.size());
  {
    Node& n = nodes_[node];
    n.state = eval.state;
    n.player = static_cast<int8_t>(eval.player);
    n.terminal = eval.terminal;
    n.reward = node == root_ && n.parent < 0 ? 0.0 : eval.reward;
    n.expanded = true;
    if (eval.terminal) return;
    n.first_child = first;
  }
  double total = 0;
  for (float p : eval.priors) total += std::max(0.0f, p);
  for (int a = 0; a < num_actions_; ++a) {
    Node c;
    c.parent = node;
    c.action = a;
    const double p = std::max(0.0f, eval.priors[a]);
    c.prior = static_cast<float>(total > 0 ? p / total : 0.0);
    nodes_.push_back(c);
  }
}

int Mcts::SelectChild(int node) const {
  const Node& n = nodes_[node];
  const double parent_n = n.visits + n.pending;
  const double pb_c =
      (std::log((parent_n + config_.c_base + 1.0) / config_.c_base) + config_.c_init) * std::sqrt(parent_n);
  const double loss_value = config_.minmax_normalize ? 0.0 : -1.0;
  int best = -1;
  double best_score = -std::numeric_limits<double>::infinity();
  for (int a = 0; a < num_actions_; ++a) {
    const Node& c = nodes_[n.first_child + a];
    if (c.prior <= 0.0f) continue;  // illegal move
    const int visits = c.visits + c.pending;
    double q = 0.0;
    if (visits > 0) {
      const double mean = c.visits > 0 ? c.parent_q_sum / c.visits : 0.0;
      const double qn = c.visits > 0 ? (config_.minmax_normalize ? minmax_.Normalize(mean) : mean) : loss_value;
      q = (c.visits * qn + c.pending * loss_value) / visits;
    }
    const double score = q + pb_c * c.prior / (1.0 + visits);
    if (score > best_score) best_score = score, best = n.first_child + a;
  }
  RLF_CHECK(best >= 0, "mcts: a node has no legal move");
  return best;
}

void Mcts::Backup(int leaf, double value) {
  double g = value;
  for (int node = leaf;;) {
    Node& n = nodes_[node];
    ++n.visits;
    n.value_sum += g;
    if (node == root_) break;
    const int p = n.parent;
    const double q = n.reward + config_.discount * (n.player == nodes_[p].player ? g : -g);
    n.parent_q_sum += q;
    minmax_.Update(q);
    g = q;
    node = p;
  }
}

void Mcts::AddNoise(int node, Rng& rng) {
  Node& n = nodes_[node];
  if (n.noised || config_.noise_fraction <= 0 || n.terminal) return;
  n.noised = true;
  std::vector<double> noise(num_actions_, 0.0);
  double total = 0;
  for (int a = 0; a < num_actions_; ++a)
    if (nodes_[n.first_child + a].prior > 0) total += noise[a] = SampleGamma(config_.dirichlet_alpha, rng);
  if (total <= 0) return;
  const double eps = config_.noise_fraction;
  for (int a = 0; a < num_actions_; ++a) {
    Node& c = nodes_[n.first_child + a];
    if (c.prior > 0) c.prior = static_cast<float>((1 - eps) * c.prior + eps * noise[a] / total);
  }
}

SearchResult Mcts::Search(SearchModel& model, Rng& rng, bool add_noise) {
  RLF_CHECK(root_ >= 0, "mcts: Search() before SetRoot()");
  RLF_CHECK(!nodes_[root_].terminal, "mcts: Search() from a terminal state");
  RLF_CHECK(model.num_actions() == num_actions_, "mcts: the model has ", model.num_actions(), " actions, the tree ",
            num_actions_);
  if (add_noise) AddNoise(root_, rng);
  SearchResult result;
  std::vector<int> leaves, parents, actions;
  std::vector<NodeEval> evals;
  auto add_pending = [&](int leaf, int delta) {
    for (int node = leaf;; node = nodes_[node].parent) {
      nodes_[node].pending += delta;
      if (node == root_) break;
    }
  };
  while (result.simulations < config_.simulations) {
    leaves.clear(), parents.clear(), actions.clear();
    while (static_cast<int>(leaves.size()) < config_.batch_size && result.simulations < config_.simulations) {
      int node = root_;
      while (nodes_[node].expanded && !nodes_[node].terminal) node = SelectChild(node);
      if (nodes_[node].terminal) {  // a known end: back up at once
        ++result.simulations;
        Backup(node, 0.0);
        continue;
      }
      if (nodes_[node].pending > 0) break;  // another simulation of this batch waits on this leaf
      add_pending(node, 1);
      leaves.push_back(node);
      parents.push_back(nodes_[nodes_[node].parent].state);
      actions.push_back(nodes_[node].action);
      ++result.simulations;
    }
    if (leaves.empty()) continue;
    evals.resize(leaves.size());
    model.Expand(parents, actions, &evals);
    ++result.model_calls;
    for (size_t i = 0; i < leaves.size(); ++i) {
      add_pending(leaves[i], -1);
      ExpandNode(leaves[i], evals[i]);
      Backup(leaves[i], evals[i].terminal ? 0.0 : evals[i].value);
    }
  }
  const Node& r = nodes_[root_];
  result.visits.assign(num_actions_, 0);
  for (int a = 0; a < num_actions_; ++a) result.visits[a] = nodes_[r.first_child + a].visits;
  result.root_value = r.value_sum / std::max(1, r.visits);
  return result;
}

bool Mcts::Advance(int action) {
  if (root_ < 0) return false;
  const Node& r = nodes_[root_];
  if (!config_.reuse_tree || !r.expanded || r.terminal || action < 0 || action >= num_actions_ ||
      !nodes_[r.first_child + action].expanded) {
    Clear();
    return false;
  }
  // Copy the child's subtree into a fresh arena (breadth first; children stay contiguous).
  std::vector<Node> kept;
  kept.reserve(nodes_.size());
  kept.push_back(nodes_[r.first_child + action]);
  kept[0].parent = -1;
  kept[0].noised = false;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (!kept[i].expanded || kept[i].terminal) continue;
    const int old_first = kept[i].first_child;
    kept[i].first_child = static_cast<int>(kept.size());
    for (int a = 0; a < num_actions_; ++a) {
      Node c = nodes_[old_first + a];
      c.parent = static_cast<int>(i);
      kept.push_back(c);
    }
  }
  nodes_.swap(kept);
  root_ = 0;
  return true;
}

double Mcts::ChildQ(int action) const {
  const Node& c = nodes_[nodes_[root_].first_child + action];
  return c.visits > 0 ? c.parent_q_sum / c.visits : 0.0;
}

int Mcts::ChildVisits(int action) const { return nodes_[nodes_[root_].first_child + action].visits; }

int Mcts::SelectAction(const std::vector<int>& visits, double temperature, Rng& rng) {
  RLF_CHECK(!visits.empty(), "mcts: no visit counts");
  if (temperature <= 0) return static_cast<int>(std::max_element(visits.begin(), visits.end()) - visits.begin());
  const int most = *std::max_element(visits.begin(), visits.end());
  RLF_CHECK(most > 0, "mcts: no visits to choose from");
  std::vector<double> w(visits.size());
  double total = 0;
  for (size_t a = 0; a < visits.size(); ++a)
    total += w[a] = visits[a] > 0 ? std::pow(static_cast<double>(visits[a]) / most, 1.0 / temperature) : 0.0;
  double u = rng.Uniform() * total;
  for (size_t a = 0; a < w.size(); ++a) {
    if (w[a] <= 0) continue;
    if ((u -= w[a]) <= 0) return static_cast<int>(a);
  }
  for (size_t a = w.size(); a-- > 0;)
    if (w[a] > 0) return static_cast<int>(a);
  return 0;
}

}  // namespace rlforge::search
