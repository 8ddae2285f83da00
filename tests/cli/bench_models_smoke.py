#!/usr/bin/python3
"""`diffnorm bench unet|vae-decode|text-encoder` on the tiny structural pipelines: one JSON
line per network with sane fields, both precisions, SDXL's text_time inputs, and clear
errors for a folder without configs and a size that is not a multiple of 8."""
import json
import subprocess
import sys
import tempfile

binary, shared = sys.argv[1], sys.argv[2]
pipelines = f"{shared}/fixtures/pipelines"


def bench(*args):
    run = subprocess.run([binary, *args], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {run.stderr}")
    return [json.loads(line) for line in run.stdout.splitlines()]


for precision in ["fp32", "bf16"]:
    for config in ["sd15-struct", "sdxl-struct"]:
        for model in ["unet", "vae-decode", "text-encoder"]:
            lines = bench("--precision", precision, "bench", model, "--config", f"{pipelines}/{config}", "--runs", "2",
                          "--warmup", "0", "--json")
            expected = 2 if (model == "text-encoder" and config == "sdxl-struct") else 1
            assert len(lines) == expected, (model, config, lines)
            for line in lines:
                assert line["precision"] == precision and line["runs"] == 2, line
                assert 0 < line["best_s"] <= line["mean_s"] and line["best_cpu_s"] > 0, line
                assert line["peak_gib"] > 0 and line["fresh_buffers"] >= 0, line

# The size options reach the input: 64x48 pixels with an 8x VAE is a 8x6 latent.
(line,) = bench("bench", "unet", "--config", f"{pipelines}/sd15-struct", "-W", "64", "-H", "48", "--batch", "1",
                "--runs", "1", "--json")
factor = 64 // int(line["input"].strip("[]").split(", ")[3])
assert line["input"] == f"[1, 4, {48 // factor}, {64 // factor}]", line

with tempfile.TemporaryDirectory() as empty:
    for args, message in [(["bench", "unet", "--config", empty], "config.json"),
                          (["bench", "vae-decode", "--config", f"{pipelines}/sd15-struct", "-W", "100"], "multiples of 8")]:
        run = subprocess.run([binary, *args], capture_output=True, text=True)
        assert run.returncode != 0 and message in run.stderr, (args, run.stderr)
print("bench models smoke: ok")
