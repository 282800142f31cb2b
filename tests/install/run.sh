#!/usr/bin/env bash
# Installs an Eddy build tree into a temporary prefix, then configures, builds and runs
# tests/install/consumer against it, the way a user's own project would use Eddy.
#
#   tests/install/run.sh BUILD_DIR
#
# Registered with ctest as `install_consumer` (label `install`). Cleans up after itself.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/eddy-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Build the consumer with the compiler and build type of the tree under test.
cache_value() {
  sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt" | head -n 1
}
cxx=$(cache_value CMAKE_CXX_COMPILER)
build_type=$(cache_value CMAKE_BUILD_TYPE)
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

echo "== installing $build_dir into $work/prefix"
cmake --install "$build_dir" --prefix "$work/prefix" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  echo "install_consumer: cmake --install failed (is the build tree fully built?)" >&2
  exit 1
}

echo "== configuring and building the consumer"
cmake -S "$here/consumer" -B "$work/build" "${generator[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" \
  ${cxx:+-DCMAKE_CXX_COMPILER="$cxx"} \
  ${build_type:+-DCMAKE_BUILD_TYPE="$build_type"}
cmake --build "$work/build"

echo "== running the consumer"
"$work/build/consumer"
