// A probe for tests/layering_test.sh: code of the env layer that includes its
// own layer's header. It must compile (the control for the failing probes).
#include "rlforge/env/registry.h"

int LayeringProbe() { return rlforge::Registry::Global().Ids().empty() ? 0 : 1; }
