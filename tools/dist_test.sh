#!/usr/bin/env bash
# Multi-process evaluation with torchrun: NCCL on GPUs, gloo on CPU-only machines.
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options...]
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NPROC [test.py options...]" >&2
    exit 2
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
exec bash "$HERE/torchrun.sh" "$HERE/test.py" "$3" "$1" "$2" --launcher pytorch "${@:4}"
