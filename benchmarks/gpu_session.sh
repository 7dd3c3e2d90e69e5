#!/usr/bin/env bash
# The GPU check in one device call. The device image has torch (numpy 2, Python 3.12) but not RecBole, and
# ML-1M lives outside the repository, so both travel in saved/gpu/ (ignored by git, ~16 MiB, under the
# device tool's 64 MiB limit for carried paths).
#   here, once:        bash benchmarks/gpu_session.sh prepare
#   device run:        command "bash benchmarks/gpu_session.sh run", carry ["saved/gpu"], timeout_s 600
#   CPU rehearsal:     OUT=/tmp bash benchmarks/gpu_session.sh run --device cpu --smoke
# Results: $OUT/gpu-check.json (copy to benchmarks/results/scale/ and commit).
set -euo pipefail
case "${1:-run}" in
prepare)
  mkdir -p saved/gpu/wheels saved/gpu/data
  pip download -q --no-deps -d saved/gpu/wheels recbole==1.2.1 colorlog==4.7.2 texttable
  cp -r ../shared/data/ml-1m saved/gpu/data/
  du -sh saved/gpu ;;
run)
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  python3 -m pip install -q --no-deps --target /tmp/pydeps saved/gpu/wheels/*.whl
  export PYTHONPATH="/tmp/pydeps:$PWD" PYTHONUNBUFFERED=1
  python3 benchmarks/gpu_check.py --ml1m-path saved/gpu/data --synthetic-path /tmp/b4r-scale \
    --budget-s 420 --timeout-s 200 --out "${OUT:-/tmp}/gpu-check.json" "${@:2}" 2>&1 | tee "${OUT:-/tmp}/gpu-check.log" ;;
*)
  echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
