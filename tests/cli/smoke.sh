#!/usr/bin/env bash
# The program prints help for every subcommand, exits non-zero with a message on bad input.
set -euo pipefail
bin="$1"
"$bin" --help | grep -q "Subcommands"
"$bin" --version | grep -q "diffnorm"
"$bin" env | grep -q "simd target"
if "$bin" no-such-command 2>/dev/null; then echo "unknown command accepted"; exit 1; fi
if "$bin" --threads -3 env 2>/dev/null; then echo "negative --threads accepted"; exit 1; fi
echo "cli smoke: ok"
