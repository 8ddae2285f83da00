"""End-to-end checks of `diffnorm generate` on the tiny fixture pipelines
(../shared/fixtures/pipelines), run as a user would run it:

* the single-file SD1.5 checkpoint with --prediction-type v_prediction --timestep-spacing
  trailing reproduces the case sd15_vpred_euler_trailing (diffusers 0.23.1) pixel for pixel
  (+-1), and differs without the flag;
* the single-file SDXL base + single-file refiner (--refiner-start, aesthetic scores)
  reproduce the case sdxl_base_refiner; another aesthetic score changes the picture;
* img2img from a JPEG of another size equals img2img from Pillow's own decoding and
  Lanczos resize of it, saved as PNG; a truncated JPEG is an error naming the file;
* PNG parameters, plain progress lines (stderr is not a terminal), the timing summary with
  peak memory, --batch-count, --aspect, and the errors for bad sizes / names.
Usage: test_generate_cli.py DIFFNORM_BINARY SHARED_DIR"""
import os
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import cli_support  # noqa: E402
from cli_support import read_safetensors  # noqa: E402

BIN, SHARED = sys.argv[1], sys.argv[2]
PIPES = os.path.join(SHARED, "fixtures", "pipelines")


def fixture_tensor(case, key):
    return read_safetensors(os.path.join(PIPES, "cases", case, "fixtures.safetensors"))[1][key][1]


def run(*args, ok=True):
    return cli_support.run(BIN, *args, ok=ok)


def expect(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)


def expect_error(fragment, *args):
    cli_support.expect_error(BIN, fragment, *args)


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def expect_same_picture(got, want, what):
    expect(got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}")
    diff = np.abs(got - want)
    # float32 rounding: a few values may round the other way, by 1 (as in generate_cases_test).
    expect(diff.max() <= 1 and (diff > 0).sum() <= diff.size // 1000 + 4,
           f"{what}: {(diff > 0).sum()} values differ, by up to {diff.max()}")


def parameters(path):
    return Image.open(path).text["parameters"]


def check_v_prediction_single_file(tmp):
    out = os.path.join(tmp, "vpred.png")
    args = ["generate", "-m", os.path.join(PIPES, "single_file", "sd15-struct.fp16.safetensors"),
            "--config-dir", os.path.join(PIPES, "sd15-struct"), "--sampler", "euler", "-s", "1255",
            "-W", "128", "-H", "64", "--steps", "6", "--cfg-scale", "7.5",
            "-p", "a photo of an astronaut riding a horse on mars, highly detailed",
            "-n", "blurry, low quality, watermark"]
    log = run(*args, "--prediction-type", "v_prediction", "--timestep-spacing", "trailing", "-o", out)
    want = fixture_tensor("sd15_vpred_euler_trailing", "image.uint8").astype(np.int16)
    expect_same_picture(pixels(out), want, "v-prediction single file vs sd15_vpred_euler_trailing")
    for step in range(1, 7):
        expect(f"base step {step}/6" in log, f"no plain progress line for step {step}:\n{log}")
    expect("timing: load" in log and "sampling" in log and "decoding" in log and "peak memory" in log,
           f"no timing summary with peak memory:\n{log}")
    text = parameters(out)
    for part in ["Negative prompt: blurry, low quality, watermark", "Steps: 6", "Sampler: Euler", "CFG scale: 7.5",
                 "Seed: 1255", "Size: 128x64", "Model hash: ", "Model: sd15-struct.fp16"]:
        expect(part in text, f"PNG parameters lack '{part}': {text}")

    eps = os.path.join(tmp, "eps.png")
    run(*args, "--timestep-spacing", "trailing", "-o", eps)
    expect(np.abs(pixels(eps) - want).max() > 8, "--prediction-type v_prediction made no difference")
    print("single file + --prediction-type v_prediction: ok")


def check_refiner_single_files(tmp):
    out = os.path.join(tmp, "refined.png")
    single = os.path.join(PIPES, "single_file")
    args = ["generate", "-m", os.path.join(single, "sdxl-struct.fp16.safetensors"),
            "--config-dir", os.path.join(PIPES, "sdxl-struct"),
            "--refiner", os.path.join(single, "sdxl-refiner-struct.fp16.safetensors"),
            "--refiner-config-dir", os.path.join(PIPES, "sdxl-refiner-struct"), "--refiner-start", "0.8",
            "-s", "1274", "-W", "192", "-H", "128", "--steps", "10", "--cfg-scale", "5",
            "-p", "a cinematic photo of a red fox in a snowy forest", "-n", "cartoon, drawing, lowres",
            "--negative-aesthetic-score", "2.5"]
    log = run(*args, "--aesthetic-score", "6", "-o", out)
    want = fixture_tensor("sdxl_base_refiner", "refiner.image.uint8").astype(np.int16)
    expect_same_picture(pixels(out), want, "single-file base + refiner vs sdxl_base_refiner")
    expect("base step 8/8" in log and "refiner step 2/2" in log, f"stages not reported:\n{log}")
    expect("Refiner switch at: 0.8" in parameters(out), parameters(out))
    other = os.path.join(tmp, "refined_other.png")
    run(*args, "--aesthetic-score", "3", "-o", other)
    expect(np.any(pixels(other) != pixels(out)), "--aesthetic-score made no difference")
    print("single-file SDXL base + single-file refiner: ok")


def check_img2img_jpeg(tmp):
    y, x = np.mgrid[0:60, 0:80]
    picture = np.stack([x * 3, y * 4, (x + y) * 2], -1).astype(np.uint8)
    jpeg = os.path.join(tmp, "init.jpg")
    Image.fromarray(picture).save(jpeg, quality=90)
    # The oracle: Pillow decodes the JPEG and resizes it with Lanczos; saved losslessly.
    png = os.path.join(tmp, "init.png")
    Image.open(jpeg).convert("RGB").resize((64, 48), Image.Resampling.LANCZOS).save(png)
    args = ["generate", "-m", os.path.join(PIPES, "sd15-struct"), "-p", "a red fox", "--steps", "4",
            "--sampler", "euler", "--strength", "0.5", "-W", "64", "-H", "48", "-s", "3"]
    from_jpeg, from_png = os.path.join(tmp, "from_jpeg.png"), os.path.join(tmp, "from_png.png")
    log = run(*args, "-i", jpeg, "-o", from_jpeg)
    run(*args, "-i", png, "-o", from_png)
    expect("init image 80x60 resized to 64x48 (Lanczos)" in log, log)
    expect(np.array_equal(pixels(from_jpeg), pixels(from_png)), "JPEG + resize differs from Pillow's")
    expect("Denoising strength: 0.5" in parameters(from_jpeg), parameters(from_jpeg))
    expect("base step 2/2" in log, f"strength 0.5 of 4 steps should run 2:\n{log}")

    broken = os.path.join(tmp, "broken.jpg")
    with open(jpeg, "rb") as f:
        data = f.read()
    with open(broken, "wb") as f:
        f.write(data[:len(data) // 2])
    expect_error("broken.jpg: corrupt JPEG", *args, "-i", broken, "-o", os.path.join(tmp, "x.png"))
    print("img2img from a JPEG of another size: ok")


def check_default_model_options(tmp):
    out = os.path.join(tmp, "batch.png")
    run("generate", "-p", "a cat", "--steps", "1", "-W", "64", "-H", "64", "-s", "7", "--batch-count", "2",
        "-o", out)
    seeds = [parameters(os.path.join(tmp, f"batch-{i}.png")) for i in range(2)]
    expect("Seed: 7," in seeds[0] and "Seed: 8," in seeds[1], f"--batch-count seeds: {seeds}")
    aspect = os.path.join(tmp, "aspect.png")  # ~1 megapixel: the quickest model, one step, no guidance
    run("generate", "-m", os.path.join(PIPES, "sd15-struct"), "-p", "a cat", "--steps", "1", "--cfg-scale", "1",
        "--sampler", "euler", "--aspect", "16:9", "-o", aspect)
    expect(Image.open(aspect).size == (1344, 768), f"--aspect 16:9 gave {Image.open(aspect).size}")
    print("--batch-count, --aspect: ok")


def check_bf16_precision(tmp):
    """--precision bf16 is written into the parameters and moves the image only slightly."""
    sd15 = os.path.join(PIPES, "sd15-struct")
    args = ["generate", "-m", sd15, "-p", "a cat", "--steps", "2", "-W", "64", "-H", "64", "-s", "3"]
    fp32, bf16 = os.path.join(tmp, "fp32.png"), os.path.join(tmp, "bf16.png")
    run(*args, "-o", fp32)
    run("--precision", "bf16", *args, "-o", bf16)
    expect("Precision: bf16" in parameters(bf16), parameters(bf16))
    expect("Precision" not in parameters(fp32), parameters(fp32))
    diff = np.abs(pixels(bf16) - pixels(fp32))
    expect(0 < diff.max() and diff.mean() < 4, f"bf16 vs fp32 image: max {diff.max()}, mean {diff.mean():.2f}")
    print("--precision bf16: ok")


def check_errors(tmp):
    out = os.path.join(tmp, "e.png")
    sd15 = os.path.join(PIPES, "sd15-struct")
    single = os.path.join(PIPES, "single_file", "sd15-struct.fp16.safetensors")
    expect_error("not a multiple of 8", "generate", "-p", "x", "-W", "100", "-H", "64", "-o", out)
    expect_error("valid: sd1, sd2, sdxl-base, sdxl-refiner", "generate", "-m", single, "--family", "sd3", "-p", "x",
                 "-o", out)
    expect_error("valid: epsilon, v_prediction", "generate", "-p", "x", "--prediction-type", "v", "-o", out)
    expect_error("valid: leading, trailing, linspace", "generate", "-p", "x", "--timestep-spacing", "x", "-o", out)
    expect_error("is a diffusers folder", "generate", "-m", sd15, "--family", "sd1", "-p", "x", "-o", out)
    expect_error("either --aspect or -W/-H", "generate", "-p", "x", "--aspect", "1:1", "-W", "64", "-o", out)
    print("generate errors: ok")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_errors(tmp)
        check_v_prediction_single_file(tmp)
        check_refiner_single_files(tmp)
        check_img2img_jpeg(tmp)
        check_default_model_options(tmp)
        check_bf16_precision(tmp)
    print("generate cli: ok")


if __name__ == "__main__":
    main()
