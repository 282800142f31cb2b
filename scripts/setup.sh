#!/usr/bin/env bash
# Installs the Debian packages that Eddy's build and tests need (DESIGN.md section 8).
#
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --dev    also clang-format and clang-tidy (for `make format` / `make tidy`)
#
# Idempotent and quiet: when everything is already installed it does nothing and prints
# nothing. Otherwise it runs `apt-get update` once and installs only what is missing,
# without prompts. Works as root, or through sudo when run as another user.
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache make pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libxxhash-dev libfmt-dev nlohmann-json3-dev libcli11-dev libzstd-dev librocksdb-dev
)
dev_packages=(clang-format clang-tidy)

die() {
  echo "setup.sh: error: $*" >&2
  exit 1
}

for arg in "$@"; do
  case "$arg" in
    --dev) packages+=("${dev_packages[@]}") ;;
    -h | --help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$arg' (expected --dev)" ;;
  esac
done

command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: this script supports Debian/Ubuntu only; install by hand: ${packages[*]}"

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  die "missing packages (${missing[*]}) and not root and no sudo: run this script as root"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null ||
  die "apt-get update failed"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" </dev/null >/dev/null ||
  die "apt-get install failed for: ${missing[*]}"

# Verify: a package name apt silently resolved to something else would show up here.
still_missing=()
for pkg in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || still_missing+=("$pkg")
done
((${#still_missing[@]} == 0)) || die "still not installed after apt-get: ${still_missing[*]}"
echo "setup.sh: done"
