"""End-to-end checks of `diffnorm lora merge`, `generate --lora` / <lora:NAME:W> and their errors
on the tiny fixture pipelines (../shared/fixtures/pipelines), with small kohya LoRAs written here.

The merge oracle is numpy in float64: W' = W + weight * (alpha / r) * up @ down, rounded to the
file's float16; every other tensor must come back byte for byte (same keys, order, dtypes).
Usage: test_lora_cli.py DIFFNORM_BINARY SHARED_DIR"""
import json
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import cli_support  # noqa: E402
from cli_support import read_safetensors  # noqa: E402

BIN, SHARED = sys.argv[1], sys.argv[2]
PIPES = os.path.join(SHARED, "fixtures", "pipelines")

def write_st(path, tensors):
    header, blobs, off = {}, [], 0
    for k, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[k] = {"dtype": "F32", "shape": list(np.shape(a)), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def kohya(rng, name, out_f, in_f, rank=2, alpha=1.0):
    return {name + ".lora_down.weight": rng.standard_normal((rank, in_f)) * 0.3,
            name + ".lora_up.weight": rng.standard_normal((out_f, rank)) * 0.3,
            name + ".alpha": np.array(alpha)}


def run(*args, ok=True):
    return cli_support.run(BIN, *args, ok=ok)


def expect_error(needle, *args):
    cli_support.expect_error(BIN, needle, *args)


def png_text(path):
    with open(path, "rb") as f:
        data = f.read()
    at, chunks = 8, {}
    while at < len(data):
        n = struct.unpack(">I", data[at:at + 4])[0]
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + n]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode()] = value.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            value = rest[2:].split(b"\0", 2)[2]
            chunks[key.decode()] = value.decode()
        at += 12 + n
    return chunks


def check_merge(tmp, rng):
    """SDXL single file: UNet (SGM name), CLIP-L q_proj, OpenCLIP fused in_proj q rows."""
    base = os.path.join(PIPES, "single_file", "sdxl-struct.fp16.safetensors")
    lora = {}
    lora.update(kohya(rng, "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", 16, 16))
    lora.update(kohya(rng, "lora_te1_text_model_encoder_layers_0_self_attn_q_proj", 16, 16))
    lora.update(kohya(rng, "lora_te2_text_model_encoder_layers_0_self_attn_q_proj", 16, 16))
    path = os.path.join(tmp, "xl.safetensors")
    write_st(path, lora)
    out = os.path.join(tmp, "merged.safetensors")
    run("lora", "merge", base, f"{path}:0.7", "-o", out)

    h0, t0 = read_safetensors(base)
    h1, t1 = read_safetensors(out)
    assert [k for k in h0 if k != "__metadata__"] == [k for k in h1 if k != "__metadata__"], "key order changed"
    targets = {
        "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight":
            ("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", slice(None)),
        "conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight":
            ("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", slice(None)),
        "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight":
            ("lora_te2_text_model_encoder_layers_0_self_attn_q_proj", slice(0, 16)),
    }
    for k, (dtype, a) in t0.items():
        dtype1, b = t1[k]
        assert dtype == dtype1 and a.shape == b.shape, f"{k}: dtype/shape changed"
        if k not in targets:
            assert a.tobytes() == b.tobytes(), f"{k} changed but no LoRA targets it"
            continue
        name, rows = targets[k]
        delta = 0.7 * (1.0 / 2) * lora[name + ".lora_up.weight"] @ lora[name + ".lora_down.weight"]
        want = a.astype(np.float64).copy()
        want[rows] += delta
        err = np.abs(b.astype(np.float64) - want.astype(a.dtype).astype(np.float64)).max()
        ulp = np.abs(np.spacing(want.astype(a.dtype))).max()
        assert err <= ulp, f"{k}: merged differs from numpy by {err} (ulp {ulp})"
        if rows != slice(None):
            assert a[16:].tobytes() == b[16:].tobytes(), f"{k}: rows outside q changed"
    print("lora merge (SDXL single file, SGM + te1 + fused te2 q): ok")


def check_generate(tmp, rng):
    model = os.path.join(PIPES, "sd15-struct")
    lora_dir = os.path.join(tmp, "loras")
    os.makedirs(lora_dir)
    a = os.path.join(lora_dir, "style_a.safetensors")
    write_st(a, kohya(rng, "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q", 16, 16))
    b = os.path.join(tmp, "style_b.safetensors")
    write_st(b, kohya(rng, "lora_te_text_model_encoder_layers_0_self_attn_q_proj", 16, 16))
    common = ["generate", "-m", model, "--steps", "2", "-W", "64", "-H", "64"]
    plain, with_lora = os.path.join(tmp, "plain.png"), os.path.join(tmp, "lora.png")
    run(*common, "-p", "a red fox", "-o", plain)
    run(*common, "-p", "a red fox <lora:style_a:0.8>", "--lora-dir", lora_dir, "--lora", f"{b}:0.5", "-o", with_lora)
    with open(plain, "rb") as f1, open(with_lora, "rb") as f2:
        assert f1.read() != f2.read(), "the LoRAs changed nothing"
    params = png_text(with_lora)["parameters"]
    first = params.split("\n")[0]
    assert first == "a red fox <lora:style_a:0.8> <lora:style_b:0.5>", first
    assert 'Lora hashes: "style_a: ' in params and ", style_b: " in params, params
    # The tag is removed before tokenizing: the tagged prompt without LoRAs is the plain prompt.
    empty = os.path.join(lora_dir, "nothing.safetensors")
    write_st(empty, kohya(rng, "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q", 16, 16, alpha=0))
    zero = os.path.join(tmp, "zero.png")
    run(*common, "-p", "a red fox<lora:nothing:1>", "--lora-dir", lora_dir, "-o", zero)
    with open(plain, "rb") as f1, open(zero, "rb") as f2:
        assert png_pixels(f1.read()) == png_pixels(f2.read()), "a tag with a zero-effect LoRA changed the image"
    print("generate --lora / <lora:NAME:W> / PNG parameters: ok")
    return model, b


def png_pixels(data):
    at, idat = 8, b""
    while at < len(data):
        n = struct.unpack(">I", data[at:at + 4])[0]
        if data[at + 4:at + 8] == b"IDAT":
            idat += data[at + 8:at + 8 + n]
        at += 12 + n
    return idat


def check_errors(tmp, rng, model, good):
    common = ["generate", "-m", model, "--steps", "1", "-W", "64", "-H", "64", "-p", "x", "-o", os.path.join(tmp, "e.png")]
    unknown = os.path.join(tmp, "unknown_key.safetensors")
    t = kohya(rng, "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q", 16, 16)
    t["model.diffusion_model.out.2.weight"] = np.zeros(4)
    write_st(unknown, t)
    expect_error("model.diffusion_model.out.2.weight", *common, "--lora", unknown)
    ghost = os.path.join(tmp, "ghost.safetensors")
    write_st(ghost, kohya(rng, "lora_unet_down_blocks_7_attentions_0_proj_in", 16, 16))
    expect_error("lora_unet_down_blocks_7_attentions_0_proj_in", *common, "--lora", f"{ghost}:1")
    expect_error("lora_unet_down_blocks_7_attentions_0_proj_in", "lora", "merge",
                 os.path.join(PIPES, "single_file", "sd15-struct.fp16.safetensors"), ghost, "-o",
                 os.path.join(tmp, "never.safetensors"))
    assert not os.path.exists(os.path.join(tmp, "never.safetensors")), "a failed merge wrote its output"
    expect_error("'heavy'", *common, "--lora", f"{good}:heavy")
    expect_error("--lora-dir", "generate", "-m", model, "--steps", "1", "-p", "x <lora:style_a:1>", "-o",
                 os.path.join(tmp, "e.png"))
    expect_error("<lora:x:0.5:0.5>", *common[:-4], "-p", "x <lora:x:0.5:0.5>", "-o", os.path.join(tmp, "e.png"))
    print("errors (unknown key, LoRA matching nothing, bad FILE:W, tags): ok")


def main():
    rng = np.random.default_rng(1234)
    with tempfile.TemporaryDirectory() as tmp:
        check_merge(tmp, rng)
        model, good = check_generate(tmp, rng)
        check_errors(tmp, rng, model, good)
    print("lora cli: ok")


main()
