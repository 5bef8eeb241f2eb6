// A probe for tests/layering_test.sh: code of the env layer that reaches up
// into train/. It must not compile.
#include "rlforge/train/runner.h"

int LayeringProbe() { return 0; }
