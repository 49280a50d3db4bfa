#!/usr/bin/env bash
# Runs every gpu/*.py on the lent GPU machine, one after the other, logs under $OUT (or ./gpu-out).
# Expects onnxruntime-gpu unpacked in /tmp/site (see ../shared/device/ort_gpu_parts.sh).
set -u
out=${OUT:-gpu-out}; mkdir -p "$out"
export PYTHONPATH=/tmp/site:${PYTHONPATH:-}:$(pwd) PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1
python3 -c "import torch, onnxruntime as ort; print('torch', torch.__version__, torch.cuda.get_device_name(0)); print('ort', ort.__version__, ort.get_available_providers())" >> "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"
for f in ${GPU_SCRIPTS:-gpu/*.py}; do
  name=$(basename "$f" .py)
  echo "=== $name"
  timeout "${GPU_TIMEOUT:-150}" python3 "$f" > "$out/$name.log" 2>&1; echo "rc=$?" >> "$out/$name.log"
  tail -n 25 "$out/$name.log"
done
