// rlforge/algos/search/mcts.h — Monte-Carlo tree search with pUCT, as in
// AlphaZero (Silver et al., 2018) and MuZero (Schrittwieser et al., 2020).
//
// The tree does not know what it searches: a SearchModel expands leaves. For
// AlphaZero the model is the true simulator (env clones) plus a policy-value
// network; for MuZero it is the learned dynamics and prediction networks.
//
// Selection: at node s pick argmax_a  Q̄(s, a) + P(s, a) · sqrt(N(s)) / (1 + N(s, a))
//            · (c_init + log((N(s) + c_base + 1) / c_base))
// where Q̄ is Q normalized to [0, 1] by the smallest and largest Q seen in the
// tree (MuZero's min-max normalization; off: raw Q) and unvisited children
// score Q̄ = 0.
// Values and rewards: each node holds the value from the point of view of the
// player to move there; a child's `reward` is what the player who moved into
// it received. Q(s, a) = r + γ · (±v(child)), with − when the player to move
// changes (two-player games) — so one tree serves one- and two-player envs.
// Root: Dirichlet(α) noise mixed into the priors with weight ε (self-play).
// Batched evaluation: up to `batch_size` simulations descend before one call
// to SearchModel::Expand evaluates all their leaves; pending simulations add a
// virtual loss (they count as visits with the worst normalized value) so that
// the others spread out.
// Tree reuse: Advance(action) keeps the chosen child's subtree as the new root.
#ifndef RLFORGE_ALGOS_SEARCH_MCTS_H_
#define RLFORGE_ALGOS_SEARCH_MCTS_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "rlforge/core/rng.h"

namespace rlforge::search {

struct MctsConfig {
  int simulations = 100;          // new simulations per search (visits a reused subtree kept come on top)
  // The most simulations a search may run: its tree reserves a node per
  // action per simulation up front (10^5 on ConnectFour is about 40 MB).
  static constexpr int kMaxSimulations = 100000;
  double c_init = 1.25;           // pUCT exploration constant
  double c_base = 19652;          // pUCT log term base
  double discount = 1.0;          // γ inside the tree
  double dirichlet_alpha = 0.3;   // root noise concentration
  double noise_fraction = 0.25;   // root noise weight ε (0: none)
  bool minmax_normalize = true;   // normalize Q by the tree's bounds
  int batch_size = 1;             // leaves per model call (1: sequential search)
  bool reuse_tree = true;         // Advance keeps the subtree
};

// What the model returns for a new node.
struct NodeEval {
  int state = -1;          // the model's handle of the node's state
  double reward = 0.0;     // reward of the move into the node, to the player who made it
  int player = 0;          // player to move at the node
  bool terminal = false;   // no moves from here (value 0)
  double value = 0.0;      // value estimate for `player` (ignored when terminal)
  std::vector<float> priors;  // [num_actions] move probabilities, 0 for illegal moves
};

class SearchModel {
 public:
  virtual ~SearchModel() = default;
  virtual int num_actions() const = 0;
  // Evaluates the children reached by playing actions[i] from the node whose
  // state handle is parents[i]; fills out[i] (out has parents.size() entries).
  virtual void Expand(const std::vector<int>& parents, const std::vector<int>& actions, std::vector<NodeEval>* out) = 0;
};

// Tracks the smallest and largest Q seen (MuZero's MinMaxStats).
class MinMaxStats {
 public:
  void Update(double v) {
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }
  // (v - min) / (max - min) once max > min; v itself before.
  double Normalize(double v) const { return max_ > min_ ? (v - min_) / (max_ - min_) : v; }
  void Reset() { min_ = std::numeric_limits<double>::infinity(), max_ = -std::numeric_limits<double>::infinity(); }

 private:
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

struct SearchResult {
  std::vector<int> visits;  // [num_actions] root visit counts
  double root_value = 0;    // mean value at the root for the player to move
  int simulations = 0;      // simulations run by this search
  int model_calls = 0;      // Expand calls
};

class Mcts {
 public:
  explicit Mcts(const MctsConfig& config);

  // Starts a fresh tree at `root` (state, player, value, priors from the model).
  void SetRoot(const NodeEval& root);
  bool has_root() const { return root_ >= 0; }
  // Runs config.simulations simulations from the root; with `add_noise` the
  // root priors get Dirichlet noise first (once per root).
  SearchResult Search(SearchModel& model, Rng& rng, bool add_noise);
  // Moves the root to the child of `action`. Returns false (and clears the
  // tree) when that child was never expanded or reuse is off: call SetRoot.
  bool Advance(int action);
  void Clear();

  // The root's children (tests and diagnostics).
  int root_player() const { return nodes_[root_].player; }
  double ChildQ(int action) const;
  int ChildVisits(int action) const;
  int root_visits() const { return nodes_[root_].visits; }
  int64_t num_nodes() const { return static_cast<int64_t>(nodes_.size()); }
  const MinMaxStats& minmax() const { return minmax_; }

  // Action from visit counts: argmax (ties: lowest index) when temperature is
  // 0, else drawn with probability ∝ N^(1/T).
  static int SelectAction(const std::vector<int>& visits, double temperature, Rng& rng);

 private:
  struct Node {
    int parent = -1;
    int action = -1;          // the move from the parent
    int first_child = -1;     // children are contiguous: first_child .. +num_actions-1
    int state = -1;
    int visits = 0;
    int pending = 0;          // in-flight simulations through this node (virtual loss)
    int8_t player = 0;
    bool expanded = false;
    bool terminal = false;
    bool noised = false;
    float prior = 0;
    double reward = 0;        // to the parent's player, for the move into this node
    double value_sum = 0;     // from this node's player's point of view
    double parent_q_sum = 0;  // sum of Q(parent, action) backed up through here
  };

  void ExpandNode(int node, const NodeEval& eval);
  int SelectChild(int node) const;
  void Backup(int leaf, double value);
  void AddNoise(int node, Rng& rng);

  MctsConfig config_;
  int num_actions_ = 0;
  std::vector<Node> nodes_;
  int root_ = -1;
  MinMaxStats minmax_;
};

}  // namespace rlforge::search

#endif  // RLFORGE_ALGOS_SEARCH_MCTS_H_
