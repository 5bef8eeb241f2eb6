#!/usr/bin/env bash
# The build enforces the layers (CMakeLists.txt): each probe under
# tests/layering/ is a file of one layer including a header of a layer above it
# (or of a layer it does not link); building it must fail with "No such file"
# for exactly that header, while the control probe (an allowed include) builds.
# Usage: layering_test.sh CMAKE BUILD_DIR SOURCE_DIR
set -u
CMAKE="$1"; BUILD="$2"; SRC="$3"
fails=0
expect_fail() {  # target header
  local out
  out=$("$CMAKE" --build "$BUILD" --target "$1" 2>&1)
  if [[ $? -eq 0 ]]; then echo "FAIL $1 compiled: the layers are not enforced"; fails=$((fails+1)); return; fi
  if [[ "$out" != *"$2: No such file or directory"* ]]; then
    echo "FAIL $1 failed for another reason than the forbidden include $2:"; echo "$out" | tail -5
    fails=$((fails+1)); return
  fi
  echo "ok   $1 (cannot include $2)"
}
if "$CMAKE" --build "$BUILD" --target rlforge_layering_probe_ok >/dev/null 2>&1; then
  echo "ok   rlforge_layering_probe_ok (an allowed include builds)"
else
  echo "FAIL the control probe does not build"; fails=$((fails+1))
fi
expect_fail rlforge_layering_probe_env_train rlforge/train/runner.h
expect_fail rlforge_layering_probe_algos_envs rlforge/envs/board_games/board_game.h
expect_fail rlforge_layering_probe_algos_train rlforge/train/train_config.h
# Relative includes would walk around the staged folders: rlforge's sources
# name every header by its path from the repository root.
relative=$(grep -rn --include='*.h' --include='*.cc' -E '#include "\.{1,2}/' "$SRC/rlforge" "$SRC/tests" "$SRC/bench")
if [[ -n "$relative" ]]; then echo "FAIL relative includes:"; echo "$relative"; fails=$((fails+1)); else echo "ok   no relative includes"; fi
echo "$fails failed"
[[ $fails -eq 0 ]]
