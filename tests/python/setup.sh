#!/usr/bin/env bash
# Creates tests/python/.venv with the pinned readers of requirements.txt (safe to run again: an
# existing venv is kept and pip finds the pins already satisfied).
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements.txt
.venv/bin/python -c "import tensorboard, onnx, onnxruntime, numpy; print('ok: tensorboard', tensorboard.__version__, '| onnx', onnx.__version__, '| onnxruntime', onnxruntime.__version__)"
