#!/bin/bash
# What a session with a lent GPU runs, as one prepared call (the device gets the repository only, and
# nothing can be installed there). Prepare once, here, in the repository root:
#   echo /.whl/ >> .git/info/exclude; echo /.devdata/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl trimesh constriction soundfile cffi pycparser        # what the device's image lacks
#   mkdir -p .devdata/data && cp ../shared/data/* .devdata/data/    # ../shared does not travel
# then call the device with carry [".whl", ".devdata"] and the command `bash benchmarks/device_session.sh`.
# Every part has its own time limit and writes into $OUT (at most 8 files come back: logs and one tarball).
# Seen on an H200 (2026-11-28): set-up 8 s, device_check 114 s (its first CUDA compile included), many.py 75 s.
set -u
cd "$(dirname "$0")/.."
START=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || { echo "the carried wheels did not install"; exit 1; }
mkdir -p ../shared && ln -sfn "$PWD/.devdata/data" ../shared/data
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
mkdir -p /tmp/res
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, sys; print(sys.version); print(torch.__version__, torch.cuda.is_available())"; } > "$OUT/gpu.txt" 2>&1
mark() { echo "[$(( $(date +%s) - START )) s] $*" >> "$OUT/gpu.txt"; }
mark "set up"
timeout "${T_CHECK:-150}" python3 benchmarks/device_check.py --device cuda --out /tmp/dc \
  --json /tmp/res/device-check-gpu.json > "$OUT/device-check.log" 2>&1
mark "device check: exit $?"
# The session's own benchmark (one line, its output into /tmp/res), e.g.
#   BENCH="python3 benchmarks/protocols.py --paper wire --compile auto --device cuda --json /tmp/res/protocol-wire-gpu.json"
if [ -n "${BENCH:-}" ]; then
  timeout "${T_BENCH:-360}" bash -c "$BENCH" > "$OUT/bench.log" 2>&1
  mark "benchmark: exit $?"
fi
cp /tmp/dc/compare/comparison.png /tmp/dc/bunny/mesh.png /tmp/res/ 2>/dev/null
tar czf "$OUT/results.tgz" -C /tmp/res .
mark "packed"
