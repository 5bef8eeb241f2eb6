#!/usr/bin/env bash
# Installs the Debian packages rlforge needs, skipping those already present.
# Runs `apt-get update` at most once, and only when something is missing.
set -euo pipefail

PACKAGES=(
  cmake g++ make ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libfmt-dev libstb-dev
  libtorch-dev libopenblas0-pthread libopenblas-dev
  clang libclang-rt-14-dev
  python3-dev python3-venv pybind11-dev
  libonnx-dev libprotobuf-dev protobuf-compiler python3-torch libcpp-httplib-dev libbox2d-dev libgloo-dev
  libhdf5-dev libjpeg-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install_deps: missing packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 1
  fi
fi
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
