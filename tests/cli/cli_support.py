"""Helpers of the end-to-end CLI tests (generate_cli, lora_cli): running the program and
reading safetensors files with numpy (8-byte LE header length, JSON header, raw data)."""
import json
import struct
import subprocess
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "U8": np.uint8}


def run(binary, *args, ok=True):
    """stdout + stderr of `binary args`; exits the test when it fails (or, with ok=False, succeeds)."""
    p = subprocess.run([binary, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        sys.exit(f"FAILED: {' '.join(args)}\n{p.stdout}{p.stderr}")
    if not ok and p.returncode == 0:
        sys.exit(f"FAILED (accepted): {' '.join(args)}")
    return p.stdout + p.stderr


def expect_error(binary, fragment, *args):
    """`binary args` must fail with a message containing `fragment`."""
    out = run(binary, *args, ok=False)
    if fragment not in out:
        sys.exit(f"FAILED: error of {' '.join(args)} lacks {fragment!r}:\n{out}")


def read_safetensors(path):
    """(header, {name: (dtype name, array)}) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = (info["dtype"], array)
    return header, tensors
