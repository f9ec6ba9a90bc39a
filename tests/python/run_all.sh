#!/usr/bin/env bash
# The Python tests: gradus's files read back by the tools that define their formats
# (TensorBoard's event reader; the ONNX checker and ONNX Runtime). Needs the gradus binary
# (`cargo build -p gradus-cli`, or GRADUS=path) and the venv of setup.sh.
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh
status=0
for t in test_*.py; do
  echo "== $t"
  .venv/bin/python "$t" || status=1
done
exit $status
