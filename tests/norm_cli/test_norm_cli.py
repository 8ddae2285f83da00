#!/usr/bin/python3
"""`diffnorm norm` against PyTorch: every layer, forward and backward, on fresh random shapes
and values written to safetensors files; plus the errors on bad input.

The oracle is PyTorch in float64 on the very values the program sees (inputs rounded to
the storage dtype first), so a failure means the library, not the oracle's rounding.
Usage: test_norm_cli.py path/to/diffnorm [seed]
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402

BIN = sys.argv[1]
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else random.SystemRandom().randrange(1 << 30)
print(f"seed {SEED} (rerun: {sys.argv[0]} {BIN} {SEED})")
torch.manual_seed(SEED)
rng = random.Random(SEED)
TMP = tempfile.mkdtemp(prefix="norm_cli_")
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
failures = []
checks = 0


def run(args, expect_ok=True):
    p = subprocess.run([BIN, "norm"] + args, capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        raise AssertionError(f"diffnorm norm {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def compare(case, name, got, ref, dtype, term_scale=0.0):
    """got (program output) against the float64 oracle, within the storage dtype's rounding.
    term_scale: the size of the terms that cancel in the result (dx), when larger than it."""
    global checks
    checks += 1
    got = got.double()
    scale = max(ref.abs().max().item(), term_scale, 0.05)  # values here are O(1): a floor for exact zeros
    # Activations stored as bf16/f16 are rounded once (half an ulp, relative); everything in
    # fp32 (activations, statistics, parameter gradients) gets a tight bound.
    if name in ("y", "dx") and dtype != "f32":
        tol = {"bf16": 2.0 ** -8, "f16": 2.0 ** -10}[dtype] * ref.abs() + 2e-5 * scale
    else:
        tol = 2e-5 * ref.abs() + 2e-5 * scale
    if got.shape != ref.shape:
        failures.append(f"{case}: {name} shape {list(got.shape)}, expected {list(ref.shape)}")
        return
    bad = (got - ref).abs() > tol
    if bad.any():
        i = bad.flatten().nonzero()[0].item()
        failures.append(f"{case}: {name}: {bad.sum().item()} of {bad.numel()} differ; first at flat {i}: "
                        f"got {got.flatten()[i].item():.7g}, expected {ref.flatten()[i].item():.7g}")


def rounded(t, dtype):
    """The values the program sees for a tensor stored as dtype, in float64."""
    return t.to(DTYPES[dtype]).double()


def oracle(layer, inputs, opts, dtype):
    """PyTorch float64 forward (and backward) on NCHW tensors; returns a dict like the program's output."""
    x = rounded(inputs["x"], dtype).requires_grad_(True)
    params = {k: inputs[k].double().requires_grad_(True) for k in ("weight", "bias", "scale", "shift") if k in inputs}
    w, b = params.get("weight"), params.get("bias")
    eps = opts.get("eps", {"rmsnorm": None, "pixelnorm": 1e-8}.get(layer, 1e-5))  # the program's defaults
    out = {}
    if layer == "groupnorm":
        g = opts["groups"]
        n, c = x.shape[:2]
        xg = x.reshape(n, g, -1)
        mean, var = xg.mean(-1), xg.var(-1, unbiased=False)
        rstd = (var + eps).rsqrt()
        # Written out: F.group_norm refuses groups of one value (C = G, H·W = 1), where
        # y = β is still defined and the program must produce it.
        per_channel = [1, c] + [1] * (x.dim() - 2)
        y = ((xg - mean[..., None]) * rstd[..., None]).reshape(x.shape)
        y = y * (w.reshape(per_channel) if w is not None else 1) + (b.reshape(per_channel) if b is not None else 0)
        out["mean"], out["rstd"] = mean, rstd
    elif layer == "layernorm":
        k = opts.get("ndim", 1)
        dims = tuple(range(x.dim() - k, x.dim()))
        mean, var = x.mean(dims), x.var(dims, unbiased=False)
        y = F.layer_norm(x, x.shape[x.dim() - k:], w, b, eps)
        out["mean"], out["rstd"] = mean, (var + eps).rsqrt()
    elif layer == "rmsnorm":
        k = opts.get("ndim", 1)
        dims = tuple(range(x.dim() - k, x.dim()))
        e = eps if eps is not None else torch.finfo(torch.float32).eps
        rstd = (x.pow(2).mean(dims, keepdim=True) + e).rsqrt()
        y = x * rstd * (w if w is not None else 1)
        out["mean"], out["rstd"] = x.new_zeros(x.shape[:x.dim() - k]), rstd.reshape(x.shape[:x.dim() - k])
    elif layer == "pixelnorm":
        rstd = (x.pow(2).mean(1, keepdim=True) + eps).rsqrt()
        y = x * rstd
        out["mean"], out["rstd"] = torch.zeros_like(rstd[:, 0]), rstd[:, 0]
    elif layer in ("batchnorm", "instancenorm"):
        rm = inputs["running_mean"].double().clone() if "running_mean" in inputs else None
        rv = inputs["running_var"].double().clone() if "running_var" in inputs else None
        train = opts.get("train", False)
        reduce = (0,) + tuple(range(2, x.dim())) if layer == "batchnorm" else tuple(range(2, x.dim()))
        batch_stats = train or rm is None
        if batch_stats:
            mean, var = x.mean(reduce), x.var(reduce, unbiased=False)
        else:
            mean, var = rm, rv
            if layer == "instancenorm":
                mean, var = rm.expand(x.shape[0], -1), rv.expand(x.shape[0], -1)
        if layer == "batchnorm":
            momentum = opts.get("momentum", 0.1)
            counter = inputs.get("num_batches_tracked")
            if momentum == "none":
                count = int(counter.item() if counter is not None else 0) + (1 if train and rm is not None else 0)
                momentum = 1.0 / count if count else 0.0
            y = F.batch_norm(x, rm, rv, w, b, train or rm is None, momentum, eps)
            if rm is not None:
                out["num_batches_tracked"] = torch.tensor(
                    int(counter.item() if counter is not None else 0) + (1 if train else 0))
        else:
            y = F.instance_norm(x, rm, rv, w, b, batch_stats, opts.get("momentum", 0.1), eps)
        out["mean"], out["rstd"] = mean, (var + eps).rsqrt()
        if rm is not None:
            out["running_mean"], out["running_var"] = rm, rv
    if "scale" in params or "shift" in params:
        view = [x.shape[0], -1] + [1] * (x.dim() - 2)
        if layer == "layernorm":
            view = [x.shape[0], 1, -1]
        if "scale" in params:
            y = y * (1 + params["scale"].reshape(view))
        if "shift" in params:
            y = y + params["shift"].reshape(view)
    if opts.get("act") == "silu":
        y = F.silu(y)
    if "residual" in inputs:
        y = y + rounded(inputs["residual"], dtype)
    out["y"] = y
    if "dy" in inputs and opts.get("backward"):
        names = ["x"] + list(params)
        grads = torch.autograd.grad(y, [x] + list(params.values()), rounded(inputs["dy"], dtype))
        for name, grad in zip(names, grads):
            out["d" + name] = grad
    return {k: v.detach() for k, v in out.items()}


def to_nhwc(t):
    return t.permute(0, *range(2, t.dim()), 1).contiguous()


def to_nchw(t):
    return t.permute(0, t.dim() - 1, *range(1, t.dim() - 1)).contiguous()


def check_case(layer, inputs, opts, dtype="f32", layout="nchw"):
    """Writes the inputs, runs the program, compares every output with the oracle."""
    case = f"{layer} {dtype} {layout} {list(inputs['x'].shape)} {opts}"
    ref = oracle(layer, inputs, opts, dtype)
    stored = dict(inputs)
    if layout == "nhwc":
        for k in ("x", "dy", "residual"):
            if k in stored:
                stored[k] = to_nhwc(stored[k])
    stored = {k: (v.to(DTYPES[dtype]) if k in ("x", "dy", "residual") else v) for k, v in stored.items()}
    src, dst = os.path.join(TMP, "in.safetensors"), os.path.join(TMP, "out.safetensors")
    safetensors_py.save(src, stored)
    args = [layer, "--input", src, "--output", dst]
    if layout != "nchw":
        args += ["--layout", layout]
    for key, flag in (("groups", "--groups"), ("eps", "--eps"), ("momentum", "--momentum"),
                      ("ndim", "--normalized-ndim"), ("act", "--act")):
        if opts.get(key) is not None:
            args += [flag, str(opts[key])]
    for key, flag in (("train", "--train"), ("backward", "--backward")):
        if opts.get(key):
            args.append(flag)
    run(args)
    got = safetensors_py.load(dst)
    expected_names = set(ref) | ({"dx"} if opts.get("backward") else set())
    if set(got) != expected_names:
        failures.append(f"{case}: outputs {sorted(got)}, expected {sorted(expected_names)}")
    for name, r in ref.items():
        if name not in got:
            continue
        g = got[name]
        if name in ("y", "dx", "dresidual") and layout == "nhwc":
            g = to_nchw(g)
        if name == "num_batches_tracked":
            if g.item() != r.item():
                failures.append(f"{case}: num_batches_tracked {g.item()}, expected {r.item()}")
            continue
        if name in ("y", "dx") and g.dtype != DTYPES[dtype]:
            failures.append(f"{case}: {name} stored as {g.dtype}, expected {DTYPES[dtype]}")
        # dx = rstd·γ·(dy − mean(dy) − x̂·mean(dy·x̂)) cancels terms of size |dy|·rstd·|γ|.
        term_scale = 0.0
        if name == "dx":
            gamma = inputs["weight"].abs().max().item() if "weight" in inputs else 1.0
            term_scale = rounded(inputs["dy"], dtype).abs().max().item() * ref["rstd"].max().item() * max(gamma, 1)
        compare(case, name, g, r, dtype, term_scale)


def rand(*shape):
    return torch.randn(*shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)


def affine(c, with_bias=True):
    d = {"weight": torch.randn(c) * 0.5 + 1}
    if with_bias:
        d["bias"] = torch.randn(c) * 0.5
    return d


def spatial():
    return [rng.randint(1, 9) for _ in range(rng.randint(1, 3))]


# ---- forward and backward of every layer -------------------------------------------------
for dtype in ("f32", "bf16", "f16"):
    for layout in ("nchw", "nhwc"):
        # GroupNorm, with the conditioned forms and the fused epilogue.
        g = rng.choice([1, 2, 4, 8])
        n, c, s = rng.randint(1, 3), g * rng.randint(1, 6), spatial()
        x = rand(n, c, *s)
        base = {"x": x, "dy": torch.randn_like(x)}
        check_case("groupnorm", {**base, **affine(c)}, {"groups": g, "eps": 1e-5, "backward": True}, dtype, layout)
        check_case("groupnorm", {**base, **affine(c), "scale": torch.randn(n, c) * 0.3,
                                 "shift": torch.randn(n, c) * 0.3, "residual": torch.randn_like(x)},
                   {"groups": g, "eps": 1e-6, "act": "silu", "backward": True}, dtype, layout)
        check_case("groupnorm", dict(base), {"groups": g, "eps": 1e-5, "backward": True}, dtype, layout)

        # BatchNorm: training with running statistics (momentum, cumulative), eval, none.
        x = rand(rng.randint(2, 4), rng.randint(1, 9), *spatial())
        c = x.shape[1]
        stats = {"running_mean": torch.randn(c) * 0.2, "running_var": torch.rand(c) + 0.5}
        bn = {"x": x, "dy": torch.randn_like(x), **affine(c)}
        check_case("batchnorm", {**bn, **stats}, {"train": True, "momentum": 0.3, "backward": True}, dtype, layout)
        check_case("batchnorm", {**bn, **stats, "num_batches_tracked": torch.tensor(4)},
                   {"train": True, "momentum": "none", "backward": True}, dtype, layout)
        check_case("batchnorm", {**bn, **stats}, {"backward": True}, dtype, layout)
        check_case("batchnorm", dict(bn), {"act": "silu", "backward": True}, dtype, layout)

        # InstanceNorm: plain, affine with running statistics (train, eval).
        x = rand(rng.randint(1, 3), rng.randint(1, 7), *spatial())
        x = x if x[0, 0].numel() > 1 else rand(2, 3, 5)
        c = x.shape[1]
        stats = {"running_mean": torch.randn(c) * 0.2, "running_var": torch.rand(c) + 0.5}
        inorm = {"x": x, "dy": torch.randn_like(x)}
        check_case("instancenorm", dict(inorm), {"eps": 1e-5, "backward": True}, dtype, layout)
        check_case("instancenorm", {**inorm, **affine(c), **stats}, {"train": True, "momentum": 0.2,
                                                                     "backward": True}, dtype, layout)
        check_case("instancenorm", {**inorm, **affine(c), **stats}, {"backward": True}, dtype, layout)

        # PixelNorm.
        x = rand(rng.randint(1, 3), rng.randint(2, 16), *spatial())
        check_case("pixelnorm", {"x": x, "dy": torch.randn_like(x)}, {"eps": 1e-8, "backward": True}, dtype, layout)

    # LayerNorm over the last 1 or 2 dims, and AdaLN; RMSNorm.
    b, t, d = rng.randint(1, 3), rng.randint(1, 20), rng.randint(1, 70)
    x = rand(b, t, d)
    ln = {"x": x, "dy": torch.randn_like(x)}
    check_case("layernorm", {**ln, **affine(d)}, {"eps": 1e-5, "backward": True}, dtype)
    check_case("layernorm", {**ln, "scale": torch.randn(b, d) * 0.3, "shift": torch.randn(b, d) * 0.3},
               {"eps": 1e-6, "backward": True}, dtype)
    x4 = rand(b, t, 3, rng.randint(1, 9))
    check_case("layernorm", {"x": x4, "dy": torch.randn_like(x4), "weight": torch.randn(x4.shape[2:]) + 1,
                             "bias": torch.randn(x4.shape[2:])}, {"eps": 1e-5, "ndim": 2, "backward": True}, dtype)
    check_case("rmsnorm", {**ln, "weight": torch.randn(d) * 0.5 + 1}, {"backward": True}, dtype)
    check_case("rmsnorm", dict(ln), {"eps": 1e-6, "backward": True}, dtype)


# ---- bad input: a clear error (exit 1, message naming the problem), never a crash --------
def expect_error(args, inputs, *words):
    global checks
    checks += 1
    src, dst = os.path.join(TMP, "bad.safetensors"), os.path.join(TMP, "bad_out.safetensors")
    if inputs is not None:
        safetensors_py.save(src, inputs)
    p = run([a.replace("IN", src).replace("OUT", dst) for a in args], expect_ok=False)
    # A clean failure: a non-zero exit status (not a signal) and a message with the words.
    if not 0 < p.returncode < 128 or not all(w.lower() in p.stderr.lower() for w in words):
        failures.append(f"error case {args} {list(inputs or [])}: exit {p.returncode}, stderr {p.stderr!r}, "
                        f"expected a non-zero exit and {words}")


x = torch.randn(2, 6, 4, 4)
nan_x = x.clone()
nan_x[1, 2, 3, 0] = float("nan")
gn = ["groupnorm", "--input", "IN", "--output", "OUT", "--groups", "3"]
expect_error(gn, {"weight": torch.ones(6)}, "no tensor named 'x'", "weight")
expect_error(gn, {"x": x, "weight": torch.ones(5)}, "weight", "[5]", "[6]")
expect_error(["groupnorm", "--input", "IN", "--output", "OUT", "--groups", "4"], {"x": x}, "--groups 4", "6")
expect_error(["groupnorm", "--input", "IN", "--output", "OUT"], {"x": x}, "--groups")
expect_error(gn + ["--eps", "-1"], {"x": x}, "--eps")
expect_error(gn + ["--eps", "nan"], {"x": x}, "--eps")
expect_error(gn, {"x": nan_x}, "'x'", "nan", "[1, 2, 3, 0]")
expect_error(gn, {"x": x, "wieght": torch.ones(6)}, "unexpected tensor 'wieght'")
expect_error(gn + ["--backward"], {"x": x}, "dy")
expect_error(gn, {"x": x, "dy": torch.randn(2, 6, 4)}, "'dy'", "shape")
expect_error(gn, {"x": x, "running_mean": torch.zeros(6), "running_var": torch.ones(6)}, "running")
expect_error(["batchnorm", "--input", "IN", "--output", "OUT", "--momentum", "2"], {"x": x}, "--momentum")
expect_error(["batchnorm", "--input", "IN", "--output", "OUT"], {"x": x, "running_mean": torch.zeros(6)},
             "running_var")
expect_error(["batchnorm", "--input", "IN", "--output", "OUT"], {"x": x, "scale": torch.zeros(2, 6)}, "scale")
expect_error(["layernorm", "--input", "IN", "--output", "OUT", "--normalized-ndim", "5"], {"x": x},
             "--normalized-ndim")
expect_error(["rmsnorm", "--input", "IN", "--output", "OUT", "--layout", "nhwc"], {"x": x}, "--layout")
expect_error(["instancenorm", "--input", "IN", "--output", "OUT"], {"x": torch.randn(2, 6)}, "at least 3 dims")
p = run(["groupnorm", "--input", os.path.join(TMP, "missing.safetensors"), "--output", "OUT", "--groups", "1"],
        expect_ok=False)
checks += 1
if not 0 < p.returncode < 128 or "missing.safetensors" not in p.stderr:
    failures.append(f"missing input file: exit {p.returncode}, stderr {p.stderr!r}")

# ---- `bench norm --json`: one well-formed object per case (its speed is not asserted) ------
bench = subprocess.run([BIN, "bench", "norm", "--json", "--quick", "--layer", "layernorm", "--memory", "cache"],
                       capture_output=True, text=True)
checks += 1
records = [json.loads(line) for line in bench.stdout.splitlines()] if bench.returncode == 0 else []
fields = {"layer", "shape", "layout", "dtype", "direction", "memory", "ms", "gbps", "copy_gbps", "read_gbps", "bytes",
          "threads"}
small = [r for r in records if r["shape"] == [2, 77, 768] and r["dtype"] == "f32" and r["direction"] == "forward"]
if bench.returncode != 0 or not small or any(
        not fields <= set(r) or r["layer"] != "layernorm" or r["memory"] != "cache" or r["ms"] <= 0 or
        r["copy_gbps"] <= 0 or r["read_gbps"] <= 0 or abs(r["gbps"] - r["bytes"] / (r["ms"] * 1e6)) > 1e-3 * r["gbps"] for r in records):
    failures.append(f"bench norm --json: exit {bench.returncode}, records {records[:2]}, stderr {bench.stderr!r}")
elif small[0]["bytes"] < 2 * 2 * 77 * 768 * 4:  # x read and y written at least
    failures.append(f"bench norm: [2,77,768] f32 forward counts {small[0]['bytes']} bytes, fewer than x + y")
# The two-pass floor is timed beside every LayerNorm forward (bench norm checks its y
# against the layer's before timing) and beside no backward.
checks += 1
if any((r.get("floor_gbps") or 0) <= 0 if r["direction"] == "forward" else r.get("floor_gbps") is not None
       for r in records) or not records:
    failures.append(f"bench norm --json: floor_gbps {[(r['direction'], r.get('floor_gbps')) for r in records]}")

print(f"{checks} checks, {len(failures)} failures")
for f in failures[:40]:
    print("FAIL", f)
sys.exit(1 if failures or checks < 100 else 0)
