// rlforge/train/export.h — trained policies out of rlforge: the rlf file of
// the torch-free runtime (rlforge/runtime/), TorchScript and ONNX.
//
// Every format is written from the one runtime::Model an agent exports
// (Algorithm::Export), so all three compute the same function:
//   inputs   obs   [B, *obs_shape] float32 (Discrete: [B] indices;
//                  MultiDiscrete: [B, k] indices; images: pixel values 0..255
//                  in the env's layout)
//            mask  [B, mask_size] (nonzero = legal; categorical and Q heads;
//                  TorchScript: optional; ONNX: an input when the env has
//                  masks)
//   outputs  action  [B] int64 (Discrete, with the space's start added),
//                    [B, k] int64 (MultiDiscrete), [B, d] float32 (Box,
//                    clipped to the bounds): the greedy action
//            logits  [B, width] masked logits (categorical heads; masked
//                    entries are the lowest float32), or
//            mean, log_std  [B, d] (Gaussian: sample mean + exp(log_std) z,
//                    then clip), or
//            q_values [B, n] (masked: the lowest float32)
//            value   [B] the state value (actor-critic models)
// The TorchScript module's forward(obs, mask=None) returns them as a
// Dict[str, Tensor]; the ONNX graph has them as named outputs (opset 13).
// Recurrent models (recurrent PPO) take one more input and give one more
// output, the recurrent state (runtime/model.h's layout):
//   input   state       [B, state_size] float32 (TorchScript: optional,
//                       zeros; ONNX: required, zeros at an episode's start)
//   output  next_state  [B, state_size], the state for the next step
#ifndef RLFORGE_TRAIN_EXPORT_H_
#define RLFORGE_TRAIN_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/env/policy.h"
#include "rlforge/runtime/model.h"
#include "rlforge/runtime/policy.h"
#include "rlforge/train/train_config.h"

namespace rlforge {

void WriteTorchScript(const runtime::Model& model, const std::string& path);
// format: rlf, torchscript or onnx (InvalidArgument otherwise).
void WriteExport(const runtime::Model& model, const std::string& format, const std::string& path);
// The export format for writing `path`: `format` ("rlf", "torchscript" or
// "onnx"), or when it is empty the one the name's extension says (.rlf,
// .onnx, .pt/.ts for TorchScript; rlf for any other). A format the
// extension contradicts (ONNX bytes in x.rlf) is an InvalidArgument naming
// `format_name` (the flag or argument that gave it).
std::string ExportFormatFor(const std::string& format, const std::string& path, const std::string& format_name);
// InvalidArgument when this build has no ONNX library (libonnx-dev).
void WriteOnnx(const runtime::Model& model, const std::string& path);

// Observations met by `policy` acting (greedily) in the run's env, from
// seeds seed, seed + 1, ...: n rows of raw observations (the env's dtype),
// the same as floats, and the legal-action masks (empty without masks).
// Envs with conditional masks give them to `policy` while it records; it
// has none afterwards (comparisons on the recorded rows use the flat masks).
struct RecordedObservations {
  int64_t n = 0, obs_size = 0, mask_size = 0;
  std::vector<int64_t> obs_shape;  // one observation's
  std::vector<uint8_t> raw;
  std::vector<float> obs;
  std::vector<uint8_t> masks;
  std::vector<uint8_t> starts;  // 1 where a row is an episode's first observation
};
RecordedObservations RecordObservations(const TrainConfig& config, Policy& policy, int64_t n, uint64_t seed);

// How often two policies' greedy actions agree on recorded observations:
// rows whose actions are equal (Box: within 1e-5 in every component), and
// the largest difference of Box actions.
struct Agreement {
  int64_t same = 0, n = 0;
  double max_abs_diff = 0;
  double fraction() const { return n ? static_cast<double>(same) / static_cast<double>(n) : 0.0; }
};
// `reference` acts on the raw observations, `exported` on the floats.
// Recurrent policies act row by row, their states reset where episodes start.
Agreement CompareActions(Policy& reference, runtime::Policy& exported, const RecordedObservations& r,
                         const Space& action_space);
// The same for two runtime policies (e.g. int8 against float).
Agreement CompareActions(runtime::Policy& a, runtime::Policy& b, const RecordedObservations& r);
// Greedy actions of a TorchScript export on the recorded observations, as
// [n, action_size] doubles (for tests and the export's self-check); a
// recurrent export (state_size > 0) row by row, carrying its state.
std::vector<double> TorchScriptActions(const std::string& path, const RecordedObservations& r,
                                       int64_t state_size = 0);
// A TorchScript export's greedy actions against a runtime policy's.
Agreement CompareWithTorchScript(const std::string& path, runtime::Policy& p, const RecordedObservations& r);

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_EXPORT_H_
