// rlforge/train/tensorboard.h — TensorBoard event files, written directly.
//
// An event file is a sequence of TFRecords (length, masked CRC-32C of the
// length, payload, masked CRC-32C of the payload), each payload a serialized
// tensorflow.Event protobuf. We write the first record with file_version
// "brain.Event:2" and then one Event per scalar:
//   Event { double wall_time = 1; int64 step = 2; Summary summary = 5; }
//   Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
// encoded by hand (a few varints), so no protobuf dependency is needed.
// Files are named events.out.tfevents.<unix time>.<host>, as TensorBoard expects.
// A resumed run continues its newest event file after dropping the events
// logged past the checkpoint it resumed from (so no step appears twice).
#ifndef RLFORGE_TRAIN_TENSORBOARD_H_
#define RLFORGE_TRAIN_TENSORBOARD_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace rlforge {

uint32_t Crc32c(const void* data, size_t n);
uint32_t MaskedCrc32c(const void* data, size_t n);

// The (step, payload) of every complete, checksummed record of an event file.
std::vector<std::pair<int64_t, std::string>> ReadEventRecords(const std::string& path);

class TensorBoardWriter {
 public:
  // Creates a new event file in `dir`; with `resume_step`, every event file in
  // `dir` keeps only the events at steps <= *resume_step (a record cut short
  // by a killed process is dropped too) and the newest one is continued.
  explicit TensorBoardWriter(const std::string& dir, std::optional<int64_t> resume_step = std::nullopt);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void AddScalar(const std::string& tag, double value, int64_t step);
  void Flush();
  const std::string& path() const { return path_; }

 private:
  void WriteRecord(const std::string& payload);
  std::string path_;
  FILE* file_ = nullptr;
};

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_TENSORBOARD_H_
