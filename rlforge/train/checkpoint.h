// rlforge/train/checkpoint.h — atomic checkpoint files.
//
// SaveArchiveAtomically writes to "<path>.tmp", fsyncs it, renames it over
// <path> and fsyncs the directory: a crash at any moment leaves either the old
// checkpoint or the new one, never a half-written file under the real name.
// LoadArchive turns torch's errors into one line naming the file.
#ifndef RLFORGE_TRAIN_CHECKPOINT_H_
#define RLFORGE_TRAIN_CHECKPOINT_H_

#include <torch/torch.h>

#include <string>

#include "rlforge/core/rng.h"

namespace rlforge {

void SaveArchiveAtomically(torch::serialize::OutputArchive& archive, const std::string& path);
void LoadArchive(const std::string& path, torch::serialize::InputArchive* archive);
// An Rng's four state words as an int64 tensor, and back.
torch::Tensor RngStateTensor(const Rng& rng);
void SetRngState(const torch::Tensor& state, Rng* rng);

// Writes text to path atomically (same protocol).
void WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_CHECKPOINT_H_
