"""gradus's BF16 and F16 state dicts read by the `safetensors` package, values checked with `ml_dtypes`.

The fixtures are written by gradus-nn (crates/gradus-nn/tests/half_state_dict.rs, which also
checks that gradus still writes exactly these bytes): one MLP saved in F32, BF16 and F16. Here
the reference parser of the format (`safetensors.deserialize`) reads them; each 16-bit tensor
must hold exactly the bytes of the F32 tensor rounded by ml_dtypes' bfloat16 (round to nearest,
ties to even) or numpy's float16, with the same names and shapes; the F16 file must also load
through `safetensors.numpy.load_file`.
"""

import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import safetensors
from safetensors.numpy import load_file

FIXTURES = Path(__file__).resolve().parents[2] / "crates/gradus-nn/tests/fixtures"


def read(path: Path) -> dict:
    """name -> (dtype string, shape, raw bytes), as the safetensors package parses the file."""
    return {name: (t["dtype"], t["shape"], bytes(t["data"]))
            for name, t in safetensors.deserialize(path.read_bytes())}


def main() -> int:
    full = load_file(str(FIXTURES / "gradus_mlp_f32.safetensors"))
    failures = []
    for tag, dtype, np_type in [("bf16", "BF16", ml_dtypes.bfloat16), ("f16", "F16", np.float16)]:
        half = read(FIXTURES / f"gradus_mlp_{tag}.safetensors")
        if sorted(half) != sorted(full):
            failures.append(f"{tag}: names {sorted(half)} != {sorted(full)}")
            continue
        for name, values in full.items():
            got_dtype, shape, data = half[name]
            expected = values.astype(np_type)
            if got_dtype != dtype or list(shape) != list(values.shape):
                failures.append(f"{tag} {name}: {got_dtype} {shape}, expected {dtype} {list(values.shape)}")
            elif data != expected.tobytes():
                failures.append(f"{tag} {name}: bytes differ from ml_dtypes/numpy rounding")
            decoded = np.frombuffer(data, dtype=np_type).reshape(shape).astype(np.float32)
            if not np.array_equal(decoded, expected.astype(np.float32)):
                failures.append(f"{tag} {name}: values differ")
        if tag == "f16":
            loaded = load_file(str(FIXTURES / "gradus_mlp_f16.safetensors"))
            for name, values in loaded.items():
                if values.dtype != np.float16 or not np.array_equal(values, full[name].astype(np.float16)):
                    failures.append(f"f16 {name}: safetensors.numpy reads other values")
    for f in failures:
        print("FAIL", f)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
