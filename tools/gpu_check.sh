#!/usr/bin/env bash
# The one-shot GPU check (gclhand.benchmark.gpu_check; docs/benchmarks.md): train samples/s
# of dgcl_interhand and gcn_baseline_interhand (AMP bf16/fp16, batch 32/64, channels-last
# off/on, torch.compile), peak memory, a 1-process NCCL torchrun of the training entry
# point, deployed latency at batch 1/32, the data pipeline at 256 px and the implied
# 50-epoch InterHand2.6M time -- one JSON, written after every section, within 8 minutes.
#   bash tools/gpu_check.sh [OUT.json] [gclhand benchmark options, e.g. --budget-s 420]
#   bash tools/gpu_check.sh /tmp/dry.json --dry-run      # the same on the CPU, tiny sizes
set -euo pipefail
OUT=${1:-work_dirs/gpu_check.json}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY=${PYTHON:-python}
missing=$("$PY" - <<'PY'
import importlib.util
names = ['torch', 'mmengine', 'mmcv', 'torch_geometric', 'smplx', 'scipy', 'cv2', 'psutil']
print(' '.join(n for n in names if importlib.util.find_spec(n) is None))
PY
)
if [ -n "$missing" ]; then
    echo "error: $PY lacks: $missing -- install gclhand's dependencies first (pip install -e .)" >&2
    exit 2
fi
exec "$PY" -m gclhand benchmark --preset gpu-check --json "$OUT" "${@:2}"
