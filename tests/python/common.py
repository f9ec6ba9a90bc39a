"""Helpers of the Python tests: the gradus binary, temporary run folders, safetensors files."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def gradus_binary() -> Path:
    """The `gradus` binary: $GRADUS, else target/debug/gradus (built by `cargo build -p gradus-cli`)."""
    path = Path(os.environ.get("GRADUS", REPO / "target" / "debug" / "gradus"))
    if not path.exists():
        sys.exit(f"{path}: no gradus binary; run `cargo build -p gradus-cli` first or set GRADUS")
    return path


def gradus(*args: str) -> str:
    """Runs gradus with `args` from the repository root; its standard output (raises on failure)."""
    done = subprocess.run([str(gradus_binary()), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"gradus {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U32": np.uint32}


def read_safetensors(path: Path) -> dict:
    """The tensors of a safetensors file by name, as numpy arrays (the format: u64 header
    length, JSON header, raw little-endian data)."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(body[start:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def read_csv(path: Path) -> list:
    """A CSV file's rows as dicts of strings."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def run_tests(tests) -> None:
    """Runs each test function, prints `N passed, M failed` and exits non-zero on a failure."""
    passed = failed = 0
    for test in tests:
        try:
            test()
            passed += 1
            print(f"ok    {test.__name__}")
        except Exception as e:  # noqa: BLE001 - report every failure, then fail
            failed += 1
            print(f"FAIL  {test.__name__}: {type(e).__name__}: {e}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
