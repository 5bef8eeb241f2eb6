// rlforge/train/testing.h — helpers for tests that train runs (test code
// only; header-only, nothing in the library uses it).
#ifndef RLFORGE_TRAIN_TESTING_H_
#define RLFORGE_TRAIN_TESTING_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rlforge/algos/on_policy.h"
#include "rlforge/train/runner.h"

namespace rlforge::testing_util {

// An empty path for a run directory, under a folder per suite and per process
// (ctest runs each test in a process of its own, in parallel, so two tests
// that share a name must not share a folder).
inline std::string FreshDir(const std::string& suite, const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "/rlforge_" + suite + "_" + std::to_string(getpid()) + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path());
  return dir;
}

// Runner options without the live progress line.
inline RunnerOptions Quiet() {
  RunnerOptions o;
  o.progress = false;
  return o;
}

// The policy's parameters of an on-policy run (its latest checkpoint).
inline std::vector<torch::Tensor> Weights(const std::string& run_dir) {
  LoadedRun run = LoadRun(run_dir);
  std::vector<torch::Tensor> out;
  for (const auto& p : dynamic_cast<OnPolicyAlgorithm&>(*run.algorithm).policy()->parameters())
    out.push_back(p.detach().clone());
  return out;
}

// A run's progress.csv as rows of cells (the header first; an empty last
// cell kept).
inline std::vector<std::vector<std::string>> ProgressRows(const std::string& run_dir) {
  std::ifstream in(run_dir + "/progress.csv");
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

inline bool SameWeights(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

}  // namespace rlforge::testing_util

#endif  // RLFORGE_TRAIN_TESTING_H_
