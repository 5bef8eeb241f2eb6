// A probe for tests/layering_test.sh: agent code that names a particular env
// (the board games) instead of asking its env for a capability. It must not
// compile: algos/ does not link the envs layer.
#include "rlforge/envs/board_games/board_game.h"

int LayeringProbe() { return 0; }
