// A probe for tests/layering_test.sh: agent code that reaches up into the
// runner's layer. It must not compile.
#include "rlforge/train/train_config.h"

int LayeringProbe() { return 0; }
