#!/usr/bin/env bash
# torchrun with gclhand's multi-node environment variables; dist_train.sh / dist_test.sh use it.
#   bash tools/torchrun.sh TOOL.py NPROC [tool arguments...]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/torchrun.sh tools/train.py 8 CONFIG
set -euo pipefail
TOOL=$1
NPROC=$2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec torchrun --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" "$TOOL" "${@:3}"
