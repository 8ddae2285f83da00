#!/usr/bin/python3
"""diffnorm's normalization layers beside PyTorch (CPU) and oneDNN, in one run, one table.

For each layer family in turn: `diffnorm bench norm --json --layer L` (which times the
layer and a memory copy of the same bytes), then PyTorch on the same cases in this process
(same thread count through torch.set_num_threads), then oneDNN 2.6 through
bench/onednn_norm_peer (layer and batch normalization only; it has no group, instance, RMS
or pixel normalization), which samples diffnorm's same layer on the same buffers in turn
with oneDNN's: "vs oneDNN" is the ratio of those two interleaved medians. All time the same
way: warm-up samples, then the median of samples; "cache" reuses one set of operands,
"dram" cycles through a ring of operand copies larger than any cache. Prints a Markdown
table with the ratios and the targets missed; beside a forward whose statistics are
contiguous spans, "floor % of copy" is the two-pass floor `bench norm` times with it
(src/cli/bench_floor.h), and a missed target says what the floor reaches.

Memory bandwidth on a shared machine drifts between minutes, and PyTorch runs a minute or
so after diffnorm's measurement of the same case. So PyTorch's time is interleaved with a
PyTorch copy of the same bytes (`Tensor.copy_`), and "PyTorch % of its copy" is comparable
with diffnorm's "% of copy" whatever the drift; "vs PyTorch" is the plain ratio of times.

Usage: /usr/bin/python3 bench/peers_norm.py --diffnorm build/diffnorm \
           --onednn build/bench/onednn_norm_peer [--threads N] [--quick] [--layer L] [--json OUT]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

LAYERS = ["groupnorm", "groupnorm+silu", "layernorm", "rmsnorm", "batchnorm-train", "batchnorm-eval",
          "instancenorm", "pixelnorm"]


# The parameters each layer learns (their gradients are part of its backward).
GRAD_PARAMS = {"groupnorm": ["w", "b"], "groupnorm+silu": ["w", "b"], "layernorm": ["w", "b"], "rmsnorm": ["w"],
               "batchnorm-train": ["w", "b"]}


# As diffnorm's bench (src/cli/bench_timing.h): the threads run slow for the first ~50-80 ms
# after they were idle, so the warm-up lasts at least this long.
MIN_WARMUP_MS = 200


def median_ms(calls, quick):
    """As diffnorm's bench: warm-up samples (at least MIN_WARMUP_MS of them) calibrate the
    calls per sample, then the median of each call's samples, the calls' samples
    interleaved (one of each in turn) so that all of them see the same machine load."""
    warmup, samples, min_ms = (1, 5, 1.0) if quick else (2, 15, 3.0)
    counts, per_sample = [0] * len(calls), [1] * len(calls)

    def sample(j):
        start = time.perf_counter()
        for _ in range(per_sample[j]):
            calls[j](counts[j])
            counts[j] += 1
        return (time.perf_counter() - start) * 1e3 / per_sample[j]

    warmup_start, w = time.perf_counter(), 0
    while w < warmup or (time.perf_counter() - warmup_start) * 1e3 < MIN_WARMUP_MS:
        w += 1
        for j in range(len(calls)):
            per_sample[j] = max(1, math.ceil(min_ms / max(sample(j), 1e-6)))
    times = [[] for _ in calls]
    for _ in range(samples):
        for j in range(len(calls)):
            times[j].append(sample(j))
    return [statistics.median(t) for t in times]


def torch_forward(layer, x, p):
    """The PyTorch 1.13 way of writing each layer (RMSNorm and PixelNorm as their usual modules)."""
    if layer == "groupnorm":
        return F.group_norm(x, 32, p["w"], p["b"], 1e-5)
    if layer == "groupnorm+silu":
        return F.silu(F.group_norm(x, 32, p["w"], p["b"], 1e-5))
    if layer == "layernorm":
        return F.layer_norm(x, x.shape[-1:], p["w"], p["b"], 1e-5)
    if layer == "rmsnorm":  # LlamaRMSNorm (transformers): statistics in fp32
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)
        return p["w"] * h.to(x.dtype)
    if layer in ("batchnorm-train", "batchnorm-eval"):
        return F.batch_norm(x, p["rm"], p["rv"], p["w"], p["b"], layer == "batchnorm-train", 0.1, 1e-5)
    if layer == "instancenorm":
        return F.instance_norm(x, eps=1e-5)
    if layer == "pixelnorm":  # ProGAN's PixelNorm
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)
    raise ValueError(layer)


def torch_case(case, quick, dram_mib):
    """PyTorch's time for the case and, interleaved with it, the time of a PyTorch copy of
    the same bytes as diffnorm's copy baseline (half read, half written), in ms."""
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[case["dtype"]]
    shape, layer, backward = case["shape"], case["layer"], case["direction"] == "backward"
    copies = 1 if case["memory"] == "cache" else max(2, math.ceil(dram_mib * 2 ** 20 / case["bytes"]))
    c = shape[-1] if case["layout"] == "btd" else shape[1]
    gen = torch.Generator().manual_seed(1)

    def params(pdtype):
        return {"w": (torch.rand(c, generator=gen) + 1).to(pdtype), "b": torch.rand(c, generator=gen).to(pdtype),
                "rm": torch.zeros(c), "rv": torch.ones(c)}

    sets = []
    for _ in range(copies):
        x = (torch.rand(shape, generator=gen) * 4 - 2).to(dtype)
        if case["layout"] == "nhwc":
            x = x.contiguous(memory_format=torch.channels_last)
        p = params(torch.float32)
        try:
            torch_forward(layer, x[:1], p)  # fp32 parameters where PyTorch takes them (BatchNorm)
        except RuntimeError:
            p = params(dtype)
        entry = {"x": x, "p": p}
        if backward:
            inputs = [x] + [p[k] for k in GRAD_PARAMS.get(layer, [])]
            for t in inputs:
                t.requires_grad_(True)
            y = torch_forward(layer, x, p)
            dy = torch.rand(y.shape, generator=gen).to(dtype)
            if case["layout"] == "nhwc":
                dy = dy.contiguous(memory_format=torch.channels_last)
            entry.update(y=y, dy=dy, inputs=inputs)
        sets.append(entry)

    if backward:
        def call(i):
            e = sets[i % copies]
            torch.autograd.grad(e["y"], e["inputs"], e["dy"], retain_graph=True)
    else:
        def call(i):
            e = sets[i % copies]
            torch_forward(layer, e["x"], e["p"])
    half = case["bytes"] // 2
    ring = [(torch.ones(half, dtype=torch.uint8), torch.zeros(half, dtype=torch.uint8)) for _ in range(copies)]

    def copy(i):
        src, dst = ring[i % copies]
        dst.copy_(src)
    with torch.no_grad() if not backward else torch.enable_grad():
        return median_ms([call, copy], quick)


def case_key(c):
    shape = c["shape"] if isinstance(c["shape"], str) else "x".join(map(str, c["shape"]))
    return (c["layer"], shape, c["layout"], c["dtype"], c["direction"], c["memory"])


def onednn_cases(binary, cases, threads, quick, dram_mib):
    lines = "".join(" ".join(case_key(c)) + "\n" for c in cases)
    args = [binary, "--threads", str(threads), "--dram-mib", str(dram_mib)] + (["--quick"] if quick else [])
    out = subprocess.run(args, input=lines, capture_output=True, text=True, check=True).stdout
    result = {}
    for line in out.splitlines():
        r = json.loads(line)
        if r["supported"]:
            result[case_key(r)] = (r["ms"], r["diffnorm_ms"])
    return result


# Targets (fraction of the copy's bandwidth, ratios between cases) from the project's brief.
def copy_target(c):
    if c["direction"] == "backward":
        return 0.50
    layer = c["layer"]
    if layer in ("groupnorm", "layernorm"):
        return 0.70 if c["memory"] == "cache" else 0.75
    if layer in ("rmsnorm", "pixelnorm", "batchnorm-eval"):
        return 0.80
    if layer == "batchnorm-train":
        return 0.55
    return None


# The two-pass floor `bench norm` times beside a case (cli/bench_floor.h), where it has one.
def floor_text(c):
    return f"{100 * c['floor_gbps'] / c['copy_gbps']:.0f}%" if c.get("floor_gbps") else "-"


def floor_ms(c):
    return c["bytes"] / (c["floor_gbps"] * 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--diffnorm", required=True, help="the diffnorm program")
    ap.add_argument("--onednn", required=True, help="bench/onednn_norm_peer (built by bench/CMakeLists.txt)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layer", default="", help="only layers starting with this")
    ap.add_argument("--memory", default="both", choices=["cache", "dram", "both"])
    ap.add_argument("--dram-mib", type=float, default=1024)
    ap.add_argument("--json", help="also write every measurement here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    rows = []
    for layer in LAYERS:
        if not layer.startswith(a.layer):
            continue
        cmd = [a.diffnorm, "--threads", str(a.threads), "bench", "norm", "--json", "--layer", layer,
               "--memory", a.memory, "--dram-mib", str(a.dram_mib)] + (["--quick"] if a.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        cases = [c for c in map(json.loads, out.splitlines()) if c["layer"] == layer]
        onednn = onednn_cases(a.onednn, cases, a.threads, a.quick, a.dram_mib)
        for c in cases:
            c["torch_ms"], c["torch_copy_ms"] = torch_case(c, a.quick, a.dram_mib)
            c["onednn_ms"], c["onednn_diffnorm_ms"] = onednn.get(case_key(c), (None, None))
            rows.append(c)
            print(f"measured {' '.join(case_key(c))}", file=sys.stderr, flush=True)

    load = os.getloadavg()
    print(f"threads {a.threads}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; torch {torch.__version__}")
    print("| layer | shape | layout | dtype | dir | memory | diffnorm ms | GB/s | copy GB/s | % of copy | read GB/s "
          "| floor % of copy | PyTorch ms | PyTorch % of its copy | vs PyTorch | oneDNN ms | diffnorm ms beside it "
          "| vs oneDNN |")
    print("|" + "---|" * 18)
    for c in rows:
        frac = c["gbps"] / c["copy_gbps"]
        vs_torch = c["torch_ms"] / c["ms"]
        one = (f"{c['onednn_ms']:.3f} | {c['onednn_diffnorm_ms']:.3f} | {c['onednn_ms'] / c['onednn_diffnorm_ms']:.2f}x"
               if c["onednn_ms"] else "- | - | -")
        print(f"| {c['layer']} | {'x'.join(map(str, c['shape']))} | {c['layout']} | {c['dtype']} | "
              f"{c['direction'][:3]} | {c['memory']} | {c['ms']:.3f} | {c['gbps']:.1f} | {c['copy_gbps']:.1f} | "
              f"{100 * frac:.0f}% | {c['read_gbps']:.1f} | {floor_text(c)} | {c['torch_ms']:.3f} | "
              f"{100 * c['torch_copy_ms'] / c['torch_ms']:.0f}% | {vs_torch:.2f}x | {one} |")

    misses = []
    by_key = {case_key(c): c for c in rows}
    for c in rows:
        name = " ".join(case_key(c))
        t = copy_target(c)
        if t and c["gbps"] / c["copy_gbps"] < t:
            floor = f" (floor {floor_text(c)})" if c.get("floor_gbps") else ""
            misses.append(f"{name}: {100 * c['gbps'] / c['copy_gbps']:.0f}% of copy < {100 * t:.0f}%{floor}")
        if c["torch_ms"] / c["ms"] < 2:
            misses.append(f"{name}: {c['torch_ms'] / c['ms']:.2f}x PyTorch < 2x")
        if c["onednn_ms"] and c["onednn_ms"] / c["onednn_diffnorm_ms"] < 1:
            misses.append(f"{name}: {c['onednn_ms'] / c['onednn_diffnorm_ms']:.2f}x oneDNN < 1x")
        if c["layer"] == "groupnorm+silu":
            plain = by_key.get(("groupnorm",) + case_key(c)[1:])
            if plain and c["ms"] > 1.3 * plain["ms"]:
                misses.append(f"{name}: {c['ms'] / plain['ms']:.2f}x plain GroupNorm > 1.3x")
        if c["dtype"] == "bf16":
            f32 = by_key.get(case_key(c)[:3] + ("f32",) + case_key(c)[4:])
            if f32 and c["ms"] > 0.6 * f32["ms"]:
                floor = (f" (floor {floor_ms(c) / floor_ms(f32):.2f}x)"
                         if c.get("floor_gbps") and f32.get("floor_gbps") else "")
                misses.append(f"{name}: {c['ms'] / f32['ms']:.2f}x the fp32 time > 0.6x{floor}")
    print(f"\nTargets missed: {len(misses)}")
    for m in misses:
        print("- " + m)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
