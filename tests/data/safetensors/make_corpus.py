#!/usr/bin/python3
"""Writes the malformed safetensors corpus (one file per failure class of the reader)
next to this script, and the libFuzzer seed corpus (valid files plus the malformed ones)
into fuzz/corpus/safetensors_fuzz. Run with /usr/bin/python3; the output is deterministic.

A safetensors file: 8-byte little-endian header length N, N bytes of JSON, the data."""
import json
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
FUZZ_SEEDS = HERE.parents[2] / "fuzz" / "corpus" / "safetensors_fuzz"


def image(header_text: bytes, data: bytes = b"", header_len=None) -> bytes:
    n = len(header_text) if header_len is None else header_len
    return struct.pack("<Q", n) + header_text + data


def entry(dtype="F32", shape=(1,), offsets=(0, 4)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def js(obj) -> bytes:
    return json.dumps(obj).encode()


MALFORMED = {
    "too_short": b"\x05\x00\x00",
    "header_longer_than_file": image(js({"a": entry()}), bytes(4), header_len=1000),
    "header_not_json": image(b"{\"a\": {\"dtype\": ", bytes(4)),
    "header_not_object": image(b"[1, 2, 3]"),
    "non_utf8_name": image(b"{\"a\xff\": " + js(entry()) + b"}", bytes(4)),
    "entry_not_object": image(js({"a": 5})),
    "missing_dtype": image(js({"a": {"shape": [1], "data_offsets": [0, 4]}}), bytes(4)),
    "missing_shape": image(js({"a": {"dtype": "F32", "data_offsets": [0, 4]}}), bytes(4)),
    "missing_data_offsets": image(js({"a": {"dtype": "F32", "shape": [1]}}), bytes(4)),
    "dtype_not_string": image(js({"a": entry(dtype=32)}), bytes(4)),
    "unknown_dtype": image(js({"a": entry(dtype="F64", offsets=(0, 8))}), bytes(8)),
    "negative_dimension": image(js({"a": entry(shape=(-1, 1))}), bytes(4)),
    "non_integer_dimension": image(js({"a": entry(shape=(1.5,))}), bytes(4)),
    "shape_size_mismatch": image(js({"a": entry(shape=(2, 3), offsets=(0, 20))}), bytes(20)),
    "malformed_offsets": image(js({"a": entry(offsets=(4,))}), bytes(4)),
    "offsets_reversed": image(js({"a": entry(shape=(0,), offsets=(8, 4))}), bytes(8)),
    "overlapping_offsets": image(js({"a": entry(shape=(2,), offsets=(0, 8)),
                                     "b": entry(shape=(2,), offsets=(4, 12))}), bytes(12)),
    "gap_between_tensors": image(js({"a": entry(offsets=(0, 4)), "b": entry(offsets=(8, 12))}), bytes(12)),
    "duplicate_name": image(b"{\"a\": " + js(entry()) + b", \"a\": " + js(entry(offsets=(4, 8))) + b"}", bytes(8)),
    "duplicate_field": image(b"{\"a\": {\"dtype\": \"F32\", \"dtype\": \"F16\", \"shape\": [1], "
                             b"\"data_offsets\": [0, 4]}}", bytes(4)),
    "truncated_data": image(js({"a": entry(shape=(4,), offsets=(0, 16))}), bytes(10)),
    "trailing_bytes": image(js({"a": entry()}), bytes(12)),
    "metadata_not_object": image(js({"__metadata__": ["x"], "a": entry()}), bytes(4)),
    "metadata_value_not_string": image(js({"__metadata__": {"epoch": 3}, "a": entry()}), bytes(4)),
    # Found by the fuzzer: nlohmann reports an overflowing number as out_of_range, not parse_error.
    "number_overflow": image(b"{\"a\": {\"dtype\": \"F32\", \"shape\": [1E400], \"data_offsets\": [0, 4]}}", bytes(4)),
    "header_too_deep": image(b"{\"a\": " + b"[" * 40 + b"]" * 40 + b"}"),
}

VALID = {
    "valid_two_tensors": image(js({"__metadata__": {"format": "pt"},
                                   "w": entry(shape=(2, 2), offsets=(0, 16)),
                                   "b": entry(dtype="BF16", shape=(2,), offsets=(16, 20))}),
                               struct.pack("<4f", 1, 2, 3, 4) + b"\x80\x3f\x00\x40"),
    "valid_empty": image(b"{}"),
    "valid_scalar_and_empty": image(js({"s": entry(dtype="I64", shape=(), offsets=(0, 8)),
                                        "z": entry(dtype="U8", shape=(0, 3), offsets=(8, 8))}),
                                    struct.pack("<q", -7)),
}


def main():
    for old in HERE.glob("*.safetensors"):
        old.unlink()
    for name, data in MALFORMED.items():
        (HERE / f"{name}.safetensors").write_bytes(data)
    if FUZZ_SEEDS.exists():
        shutil.rmtree(FUZZ_SEEDS)
    FUZZ_SEEDS.mkdir(parents=True)
    for name, data in {**MALFORMED, **VALID}.items():
        (FUZZ_SEEDS / name).write_bytes(data)
    print(f"{len(MALFORMED)} malformed files in {HERE}, {len(MALFORMED) + len(VALID)} seeds in {FUZZ_SEEDS}")


if __name__ == "__main__":
    main()
