#!/usr/bin/env bash
# Installs the built diffnorm into a temporary prefix and builds an out-of-tree project
# against it with find_package(diffnorm), then runs that program.
set -euo pipefail
src="$1"; build="$2"
prefix="$(mktemp -d)"; work="$(mktemp -d)"
trap 'rm -rf "$prefix" "$work"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$src/tests/install/consumer" -B "$work" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work" >/dev/null
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64:${LD_LIBRARY_PATH:-}" "$work/consumer_shared"
"$work/consumer_static"
