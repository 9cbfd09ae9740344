"""Generates the small checkpoints that test/checkpoint.test.ts reads.

Run with a Python that has torch (Debian: apt-get install python3-torch):
    /usr/bin/python3 test/data/make_checkpoints.py
Writes test/data/checkpoints/: for each case, <case>.pth (zip format),
<case>.legacy.pth (pre-1.6 stream format) and <case>.json (expected values),
plus hostile files and a safetensors file written by an independent writer.

Expected tensors are {"dtype", "shape", "values"} with values flattened in
row-major order; int64 as strings (exact beyond 2^53), non-finite floats as
"nan" / "inf" / "-inf", bools as true/false.
"""

import json
import math
import os
import pickle
import struct

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints")

DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.int16: "int16",
    torch.int8: "int8",
    torch.uint8: "uint8",
    torch.bool: "bool",
}


def expected(value):
    """The JSON form of a saved object (the test converts its result the same way)."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().contiguous().reshape(-1)
        if value.dtype in (torch.float16, torch.bfloat16):
            flat = flat.float()  # exact: every half value is a float32
        values = [encode_scalar(v, value.dtype) for v in flat.tolist()]
        return {"dtype": DTYPE_NAMES[value.dtype], "shape": list(value.shape), "values": values}
    if isinstance(value, dict):
        return {str(k): expected(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [expected(v) for v in value]
    return value


def encode_scalar(v, dtype):
    if dtype == torch.int64:
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def save_case(name, obj):
    torch.save(obj, os.path.join(OUT, f"{name}.pth"))
    torch.save(obj, os.path.join(OUT, f"{name}.legacy.pth"), _use_new_zipfile_serialization=False)
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(expected(obj), f, indent=1)


def dtypes_case():
    special = [0.0, -0.0, 1.5, -2.25, float("inf"), float("-inf"), float("nan")]
    return {
        "float32": torch.tensor(special + [1e-40, 3.4e38, 0.1], dtype=torch.float32),
        "float64": torch.tensor(special + [1e-310, 0.1, math.pi], dtype=torch.float64),
        # 6e-8 is a half subnormal, 65504 the largest half.
        "float16": torch.tensor(special + [6e-8, 65504.0, 0.1], dtype=torch.float16),
        "bfloat16": torch.tensor(special + [1e-39, 3.0e38, 0.1], dtype=torch.bfloat16),
        "int64": torch.tensor([0, -1, 2**53 + 1, -(2**63), 2**63 - 1], dtype=torch.int64),
        "int32": torch.tensor([0, -1, 2**31 - 1, -(2**31)], dtype=torch.int32),
        "int16": torch.tensor([0, -1, 2**15 - 1, -(2**15)], dtype=torch.int16),
        "int8": torch.tensor([0, -1, 127, -128], dtype=torch.int8),
        "uint8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False], [False, True]]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }


def views_case():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.arange(10, dtype=torch.int64)
    return {
        "transposed": base.t(),  # stride (1, 6)
        "offset_slice": base.reshape(-1)[5:9],  # storage offset 5
        "column": base[:, 1],  # offset 1, stride 6
        "permuted": torch.arange(24, dtype=torch.float64).reshape(2, 3, 4).permute(2, 0, 1),
        "expanded": torch.tensor([1.0, 2.0]).expand(3, 2),  # stride (0, 1)
        # Two views and a whole tensor over one storage.
        "shared_head": shared[:4],
        "shared_tail": shared[6:].view(2, 2),
        "shared_all": shared,
        "half_transposed": torch.arange(6, dtype=torch.float16).reshape(2, 3).t(),
    }


def nested_case():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    return {
        "model": model.state_dict(),  # an OrderedDict with _metadata set by BUILD
        "param": torch.nn.Parameter(torch.randn(2, 2)),
        "epoch": 7,
        "lr": 0.125,
        "name": "tiny",
        "misc": [1, None, True, (2, "x")],
        "deep": {"a": {"b": torch.tensor([1, 2], dtype=torch.int32)}},
    }


class System:
    """Unpickling this runs os.system: the reader must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


class Eval:
    def __reduce__(self):
        return (eval, ("1+1",))


def hostile_files():
    obj = {"weight": torch.ones(2), "evil": System()}
    torch.save(obj, os.path.join(OUT, "evil_system.pth"))
    torch.save(obj, os.path.join(OUT, "evil_system.legacy.pth"), _use_new_zipfile_serialization=False)
    # A bare protocol-4 pickle: its global comes through STACK_GLOBAL.
    with open(os.path.join(OUT, "evil_eval.pkl"), "wb") as f:
        pickle.dump({"evil": Eval()}, f, protocol=4)


def safetensors_file():
    """All dtypes, written by this independent writer, read by the TS reader."""
    tensors = dtypes_case()
    del tensors["empty"]
    codes = {"float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
             "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
    header = {"__metadata__": {"format": "pt", "note": "made by make_checkpoints.py"}}
    data = b""
    for name, t in tensors.items():
        raw = t.contiguous().view(-1).view(torch.uint8).numpy().tobytes() if t.dim() else \
            t.reshape(1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": codes[DTYPE_NAMES[t.dtype]], "shape": list(t.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(OUT, "mixed.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    with open(os.path.join(OUT, "mixed.safetensors.json"), "w") as f:
        json.dump({"tensors": expected(tensors), "metadata": header["__metadata__"]}, f, indent=1)


def rounding_file():
    """float32 -> float16 / bfloat16 bits as torch rounds them (nearest even)."""
    torch.manual_seed(1)
    values = torch.cat([
        torch.randn(200) * torch.logspace(-9, 6, 200),  # across the half range and beyond
        torch.tensor([0.1, -0.0, 65504.0, 65519.0, 65520.0, 1e6, 2.0**-24, 2.0**-25, 3 * 2.0**-26,
                      1 + 2.0**-11, 1 + 3 * 2.0**-11, 1 + 2.0**-8, 1 + 3 * 2.0**-8, 3e38,
                      float("inf"), float("-inf"), float("nan")]),
    ]).float()
    cases = {
        "inputs": [encode_scalar(v, torch.float32) for v in values.tolist()],
        "float16_bits": values.half().view(torch.int16).tolist(),
        "bfloat16_bits": values.bfloat16().view(torch.int16).tolist(),
    }
    with open(os.path.join(OUT, "rounding.json"), "w") as f:
        json.dump(cases, f)


def main():
    os.makedirs(OUT, exist_ok=True)
    save_case("dtypes", dtypes_case())
    save_case("views", views_case())
    save_case("nested", nested_case())
    hostile_files()
    safetensors_file()
    rounding_file()
    print("torch", torch.__version__, "->", OUT)


if __name__ == "__main__":
    main()
