#!/usr/bin/env bash
# GPU checks of issue 16 (multi-process training, mixed precision), to run once on a lent GPU
# machine (e.g. one H100, 16 cores, no network) from the repository root of a copy of the tree:
#
#   bash benchmarks/gpu_checks.sh            # about 5-8 minutes; figures in $OUT/gpu_checks.txt
#   bash benchmarks/gpu_checks.sh --dry-run  # everything on the CPU, tiny sizes (checks the script)
#
# Steps (each under its own time limit, so the whole stays under 8 minutes):
#   1. a venv: reuse .venv when it imports biakit and torch, else
#      python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e ".[test]"
#   2. the machine: nvidia-smi, torch's CUDA build and devices
#   3. benchmarks/bench_amp.py on cuda: float32 vs mixed precision training throughput of the
#      instance workflow's 2D U-Net (batch 8 as the workflow, and 64), tiled prediction too
#   4. DDP throughput: torchrun with 1 and 2 processes (bench_amp.py --ddp). With fewer than
#      2 GPUs the 2 ranks share GPU 0 over gloo: a smoke test of the code path, not a figure
#   5. `biakit train --nproc` refuses more processes than GPUs (exit 2)
#   6. tests: there are no GPU-only tests; the DDP tests (CPU, gloo) and the trainer tests run
#      here to show they pass on this machine too
set -u
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
OUT=${OUT:-$PWD/benchmarks/_work/gpu_checks}
mkdir -p "$OUT"
REPORT="$OUT/gpu_checks.txt"
: >"$REPORT"
START=$(date +%s)

log() { echo "$*" | tee -a "$REPORT"; }
# run LIMIT_S COMMAND...: output into the report, exit status logged, never stops the script
run() {
  local limit=$1
  shift
  log "\$ $*"
  timeout "$limit" "$@" >>"$REPORT" 2>&1
  local rc=$?
  [ $rc -eq 124 ] && log "(timed out after ${limit}s)"
  log "(exit $rc, $(($(date +%s) - START)) s so far)"
  log ""
  return 0
}

log "== gpu_checks $(date -u +%Y-%m-%dT%H:%M:%SZ) dry_run=$DRY host=$(hostname) nproc=$(nproc)"
log "load: $(cat /proc/loadavg 2>/dev/null)"

# 1. venv --------------------------------------------------------------------------------
PY=.venv/bin/python
if ! "$PY" -c "import biakit, torch" >/dev/null 2>&1; then
  if [ $DRY -eq 1 ]; then
    log "dry run: no usable .venv here; create it first"
    exit 1
  fi
  log "creating .venv (pip install -c constraints.txt -e .[test])"
  python3 -m venv .venv >>"$REPORT" 2>&1
  timeout 240 .venv/bin/pip install -q -c constraints.txt -e ".[test]" >>"$REPORT" 2>&1
  if ! "$PY" -c "import biakit, torch" >>"$REPORT" 2>&1; then
    log "FAILED: the venv does not import biakit and torch (no network / wheelhouse?)"
    exit 1
  fi
fi
export MPLBACKEND=Agg

# 2. the machine -------------------------------------------------------------------------
command -v nvidia-smi >/dev/null 2>&1 && run 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
run 60 "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'available', torch.cuda.is_available(), 'devices', torch.cuda.device_count(), \
[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())], \
'bf16', torch.cuda.is_available() and torch.cuda.is_bf16_supported())"
GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0)
log "GPUs visible: $GPUS"

if [ $DRY -eq 1 ]; then
  DEV=cpu
  SIZE=(--tiny --steps 2 --rounds 2)
  BIG=(--tiny --steps 2 --rounds 2 --batch 4)
  export OMP_NUM_THREADS=1
else
  DEV=cuda
  SIZE=(--steps 20 --rounds 5)
  BIG=(--steps 10 --rounds 5 --batch 64)
  if [ "$GPUS" -eq 0 ]; then log "WARNING: no CUDA GPU visible; the figures below are CPU ones"; DEV=cpu; fi
fi

# 3. mixed precision ---------------------------------------------------------------------
log "== mixed precision vs float32 (goal on a GPU: >= 1.5x training throughput)"
run 150 "$PY" benchmarks/bench_amp.py --device "$DEV" "${SIZE[@]}" --predict
run 120 "$PY" benchmarks/bench_amp.py --device "$DEV" "${BIG[@]}"

# 4. DDP throughput ----------------------------------------------------------------------
log "== DDP throughput, 1 vs 2 processes (goal on 2 GPUs: >= 1.8x)"
[ "$DEV" = cuda ] && [ "$GPUS" -lt 2 ] && log "only $GPUS GPU: 2 ranks share it (smoke test only)"
for n in 1 2; do
  run 120 "$PY" -m torch.distributed.run --standalone --nproc_per_node "$n" \
    benchmarks/bench_amp.py --ddp --device "$DEV" "${SIZE[@]}"
done
if [ "$DEV" = cuda ] && [ "$GPUS" -ge 2 ]; then
  run 120 "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 \
    benchmarks/bench_amp.py --ddp --device cuda "${BIG[@]}"
  run 120 "$PY" -m torch.distributed.run --standalone --nproc_per_node 2 \
    benchmarks/bench_amp.py --ddp --device cuda "${BIG[@]}"
fi

# 5. --nproc refusal ---------------------------------------------------------------------
NP=$((GPUS + 1))
[ $NP -lt 2 ] && NP=2
log "== biakit train --nproc $NP on a CUDA config must exit 2 (more processes than GPUs)"
WS="$OUT/ws"
rm -rf "$WS" && mkdir -p "$WS"
"$PY" - "$WS" <<'EOF' >>"$REPORT" 2>&1
import sys
from pathlib import Path

import numpy as np

from biakit.io import ImageMeta, write_image

root = Path(sys.argv[1])
image = np.full((24, 24), 10, np.uint8)
image[6:18, 6:18] = 200
write_image(root / "img" / "a.tif", image, ImageMeta("YX"))
write_image(root / "masks" / "a.tif", (image > 100).astype(np.uint8), ImageMeta("YX"))
(root / "t.yaml").write_text(
    "task: semantic\ndata: {images: img, masks: masks}\noutput: trained\npatch_shape: [16, 16]\n"
    "samples_per_epoch: 4\nval_fraction: 0.0\nmodel: {depth: 1, base_filters: 2}\n"
    "train: {epochs: 1, batch_size: 2, device: cuda}\n"
)
EOF
run 60 bash -c "cd '$WS' && '$PWD/$PY' -m biakit train t.yaml --nproc $NP"

# 6. tests -------------------------------------------------------------------------------
log "== tests (no GPU-only tests exist; DDP tests run on the CPU with gloo)"
if [ $DRY -eq 1 ]; then
  run 120 "$PY" -m pytest -q -p no:cacheprovider tests/nn/train/test_distributed.py
else
  run 240 "$PY" -m pytest -q -p no:cacheprovider tests/nn/train tests/cli/test_train_nproc.py
fi

log "== done in $(($(date +%s) - START)) s; report: $REPORT"
