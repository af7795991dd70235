#!/usr/bin/env bash
# Installs the cdevents-conformance binary from this checkout and prints its path.
#
#   ci/install.sh [ROOT]          # cargo install --path runner --root ROOT (default ~/.cargo)
#
# Environment:
#   CDEVENTS_CONFORMANCE_PROFILE  `release` (default) or `debug` (quicker to build; used by the
#                                 project's own test of this script)
#   CARGO_TARGET_DIR              reused when set, so a warm build is not redone
#
# What the GitHub Action and the Dockerfile run; runnable by hand.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="${1:-${CARGO_HOME:-$HOME/.cargo}}"
profile="${CDEVENTS_CONFORMANCE_PROFILE:-release}"
flags=(--path "$here/runner" --root "$root" --locked --force --quiet)
if [ "$profile" = debug ]; then
  flags+=(--debug)
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found: install a Rust toolchain (https://rustup.rs) first" >&2
  exit 2
fi
cargo install "${flags[@]}" >&2
bin="$root/bin/cdevents-conformance"
"$bin" --version >&2
echo "$bin"
