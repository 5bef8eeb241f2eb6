#include "rlforge/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

void FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void Publish(const std::string& tmp, const std::string& path) {
  FsyncPath(tmp, false);
  RLF_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path);
  const auto dir = std::filesystem::path(path).parent_path();
  FsyncPath(dir.empty() ? "." : dir.string(), true);
}

}  // namespace

void SaveArchiveAtomically(torch::serialize::OutputArchive& archive, const std::string& path) {
  const std::string tmp = path + ".tmp";
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    throw Error(StrCat("cannot write checkpoint ", tmp, ": ", e.what_without_backtrace()));
  }
  Publish(tmp, path);
}

void LoadArchive(const std::string& path, torch::serialize::InputArchive* archive) {
  RLF_CHECK_ARG(std::filesystem::is_regular_file(path), "checkpoint '", path, "' does not exist");
  try {
    archive->load_from(path);
  } catch (const c10::Error& e) {
    throw Error(StrCat("checkpoint ", path, " cannot be read (corrupt or truncated): ", e.what_without_backtrace()));
  }
}

torch::Tensor RngStateTensor(const Rng& rng) {
  const auto& st = rng.state();
  return torch::tensor(std::vector<int64_t>(st.begin(), st.end()), torch::kLong);
}

void SetRngState(const torch::Tensor& state, Rng* rng) {
  RLF_CHECK(state.numel() == 4, "an RNG state has 4 words, got ", state.numel());
  Rng::State st;
  for (int k = 0; k < 4; ++k) st[k] = static_cast<uint64_t>(state[k].item<int64_t>());
  rng->set_state(st);
}

void WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    RLF_CHECK(f.good(), "cannot write ", tmp);
    f << contents;
    f.flush();
    RLF_CHECK(f.good(), "cannot write ", tmp);
  }
  Publish(tmp, path);
}

}  // namespace rlforge
