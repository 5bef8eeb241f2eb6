// The runtime's model loader (runtime::Parse) and a forward pass of whatever
// it accepts: any bytes are a one-line runtime::Error or a model that acts,
// never a crash. In this build the checksum is not checked
// (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION), so mutations reach the parser.
#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/runtime/model.h"
#include "rlforge/runtime/policy.h"

using namespace rlforge::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const Model m = Parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    // Act only with models small enough for a sanitized run.
    double values = 0;
    for (const auto* chain : {&m.encoder, &m.shared, &m.policy, &m.value})
      for (const auto& l : *chain) {
        values += static_cast<double>(l.output_size());
        if (l.kind == LayerKind::kConv2d)
          values += static_cast<double>(l.in * l.kernel * l.kernel) * static_cast<double>(l.out_h() * l.out_w());
      }
    if (values > 1e6 || m.obs_size() > 100000 || m.mask_size() > 100000) return 0;
    Policy p(m);
    std::vector<float> obs(static_cast<size_t>(m.obs_size()), 0.0f);
    if (m.obs_kind == ObsKind::kDiscrete) obs[0] = static_cast<float>(m.obs_start);
    std::vector<uint8_t> mask(static_cast<size_t>(m.mask_size()), 1);
    if (p.discrete()) {
      std::vector<int64_t> a(static_cast<size_t>(p.action_size()));
      p.Act(obs.data(), 1, mask.empty() ? nullptr : mask.data(), a.data(), true);
      p.Act(obs.data(), 1, mask.empty() ? nullptr : mask.data(), a.data(), false);
      std::vector<float> scores(static_cast<size_t>(m.head == HeadKind::kQValues ? m.num_actions : m.mask_size()));
      p.Scores(obs.data(), 1, mask.empty() ? nullptr : mask.data(), scores.data());
    } else {
      std::vector<float> a(static_cast<size_t>(p.action_size()));
      p.Act(obs.data(), 1, a.data(), false);
    }
    if (m.has_value()) {
      float v;
      p.Values(obs.data(), 1, &v);
    }
    Serialize(m);
  } catch (const Error&) {
  }
  return 0;
}
