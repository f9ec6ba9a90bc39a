#!/usr/bin/env bash
# Builds the gradus Python package and runs its tests: a venv of pinned tools (python/.venv),
# a dev-profile abi3 wheel built by maturin (python/dist), installed into the venv, then pytest.
# CI runs it (.ci/run); by hand: `bash python/setup.sh`, or `bash python/setup.sh -k tensor`
# (arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
fi
.venv/bin/pip install --quiet -r requirements.txt
rm -rf dist
# dev profile: the workspace's (opt-level 1, dependencies at 3), so CI reuses what cargo built
.venv/bin/maturin build --profile dev --compatibility linux --interpreter .venv/bin/python --out dist --quiet
.venv/bin/pip install --quiet --force-reinstall --no-deps dist/gradus-*.whl
# pytest itself (not `python -m pytest`): the source folder gradus/ must not shadow the wheel
.venv/bin/pytest -q -p no:cacheprovider tests "$@"
