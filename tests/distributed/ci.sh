#!/usr/bin/env bash
# Distributed tests over real MPI processes: installs Open MPI (and libclang, which rsmpi's
# bindings need), builds gradus with the `mpi` feature, and runs `mpirun -np 2` and `-np 4`
# (oversubscribed on a 2-core machine) against one process: crates/gradus-cli/tests/mpi.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null || ! dpkg -s libclang-dev >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openmpi-bin libopenmpi-dev libclang-dev >/dev/null
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun --version | head -1
cargo test -p gradus-dist --features mpi
cargo test -p gradus-cli --features mpi --test mpi
