#!/usr/bin/env bash
# Multi-process training with torchrun: NCCL on GPUs, gloo on CPU-only machines.
#   bash tools/dist_train.sh CONFIG NPROC [train.py options...]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh CONFIG 8
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NPROC [train.py options...]" >&2
    exit 2
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
exec bash "$HERE/torchrun.sh" "$HERE/train.py" "$2" "$1" --launcher pytorch "${@:3}"
