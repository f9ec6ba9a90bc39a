"""gradus.save_safetensors / load_safetensors: round trips and the file format itself."""

import json
import struct

import numpy as np
import pytest

import gradus


def test_round_trip_keeps_names_dtypes_shapes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "layer.weight": rng.normal(size=(3, 4)).astype(np.float32),
        "layer.bias": gradus.Tensor(rng.normal(size=4)),
        "fortran": np.asfortranarray(rng.normal(size=(2, 5))),
    }
    path = tmp_path / "m.safetensors"
    gradus.save_safetensors(tensors, str(path), metadata={"source": "test"})
    back = gradus.load_safetensors(str(path))
    assert sorted(back) == sorted(tensors)
    assert back["layer.weight"].dtype == "float32" and back["layer.bias"].dtype == "float64"
    for k, v in tensors.items():
        np.testing.assert_array_equal(back[k].numpy(), np.asarray(v))
    # the header is safetensors': little-endian u64 length, then JSON with dtype/shape/offsets
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert header["__metadata__"] == {"source": "test"}
    assert header["fortran"]["dtype"] == "F64" and header["fortran"]["shape"] == [2, 5]
    start, end = header["fortran"]["data_offsets"]
    body = np.frombuffer(raw[8 + n + start : 8 + n + end], dtype="<f8").reshape(2, 5)
    np.testing.assert_array_equal(body, tensors["fortran"])  # logical (C) order on disk


def test_bad_files_are_errors_naming_the_path(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="bad.safetensors"):
        gradus.load_safetensors(str(bad))
    with pytest.raises(OSError, match="missing.safetensors"):
        gradus.load_safetensors(str(tmp_path / "missing.safetensors"))
