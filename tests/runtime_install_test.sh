#!/usr/bin/env bash
# The runtime as a game links it: installed from the build tree (component
# runtime), found by a separate CMake project (examples/game/) with
# find_package(rlforge_runtime), built, and run on a policy exported by
# rlforge. The installed tree holds the library, its two headers and the
# package files only (a static library with no link dependencies).
# Usage: tests/runtime_install_test.sh BUILD_DIR RLFORGE_BINARY
set -u
BUILD="$1"; BIN="$2"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails+1)); }

if cmake --install "$BUILD" --component runtime --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
  # (the library directory is CMake's GNUInstallDirs choice: lib, or lib64 on some systems)
  files=$(cd "$tmp/prefix" && find . -type f | sed -E 's#^\./lib(64)?/#./LIBDIR/#; s#-targets-[a-z]+\.cmake$#-targets-CONFIG.cmake#' | sort | tr '\n' ' ')
  want="./LIBDIR/cmake/rlforge_runtime/rlforge_runtime-config.cmake ./LIBDIR/cmake/rlforge_runtime/rlforge_runtime-targets-CONFIG.cmake ./LIBDIR/cmake/rlforge_runtime/rlforge_runtime-targets.cmake ./LIBDIR/librlforge_runtime.a ./include/rlforge/runtime/model.h ./include/rlforge/runtime/policy.h "
  [[ "$files" == "$want" ]] && ok "install-tree" || fail "install-tree: $files"
else
  fail "install: $(tail -3 "$tmp/install.log")"
fi

if cmake -S "$SRC/examples/game" -B "$tmp/game" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release \
     >"$tmp/configure.log" 2>&1 && cmake --build "$tmp/game" >"$tmp/build.log" 2>&1; then
  ok "game-builds-against-the-installed-runtime"
  "$BIN" train --algo ppo --env CartPole-v1 --steps 4096 --set num_envs=4 --set n_steps=256 --set eval_episodes=0 \
    --out "$tmp/run" --no-progress >/dev/null 2>&1 &&
    "$BIN" export "$tmp/run" --out "$tmp/cartpole.rlf" >/dev/null 2>&1 || fail "train and export"
  out=$("$tmp/game/cartpole_game" "$tmp/cartpole.rlf" 3 2>&1)
  [[ $? == 0 && "$out" == *"mean "*" steps over 3 episodes"* ]] && ok "game-runs-the-exported-policy" ||
    fail "game run: $out"
  out=$("$tmp/game/cartpole_game" "$tmp/nope.rlf" 1 2>&1)
  [[ $? != 0 && "$out" == *"error: "* ]] && ok "game-missing-model-error" || fail "missing model: $out"
else
  fail "game build: $(tail -5 "$tmp/configure.log" "$tmp/build.log")"
fi

echo "$fails failed"
[[ $fails -eq 0 ]]
