#!/bin/bash
# The network benchmarks of BENCHMARKS.md, one JSON line per network: SD1.5 UNet, VAE
# decoder and text encoder in fp32 and bf16, then the SDXL base UNet and VAE decoder.
# Usage: bench/models.sh [DIFFNORM [THREADS]]   (run on an idle machine; ~10 minutes)
set -euo pipefail
diffnorm=${1:-build/diffnorm}
threads=${2:-2}
configs=$(dirname "$0")/../../shared/configs
uptime
for precision in fp32 bf16; do
  for model in unet vae-decode text-encoder; do
    "$diffnorm" --threads "$threads" --precision "$precision" bench "$model" --config "$configs/sd15" --runs 3 --json
  done
done
for precision in bf16 fp32; do
  "$diffnorm" --threads "$threads" --precision "$precision" bench unet --config "$configs/sdxl-base" --runs 2 --json
done
"$diffnorm" --threads "$threads" --precision bf16 bench vae-decode --config "$configs/sdxl-base" --runs 2 --json
uptime
