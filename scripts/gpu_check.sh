#!/usr/bin/env bash
# The GPU check in one run, from the repository root on a CUDA machine (README, "GPU check"):
#
#   bash scripts/prepare_device.sh                 # here, once: fills device_carry/ (git-ignored)
#   OUT=/some/folder bash scripts/gpu_check.sh     # there, with device_carry/ beside the checkout
#
# Steps, each timed, each allowed to fail without stopping the others (the exit status is 1
# when any failed):
#   env      GPU, Python and package versions
#   install  Hugging Face datasets (+ dill, multiprocess) from device_carry/wheels when missing,
#            and the project itself (pip install --no-deps -e .) when not installed
#   tests    the CUDA and GPU tests: pytest -k "cuda or gpu" over the test files that mention them
#   parity   python -m benchmark.perf.gpu_parity: CUDA-vs-CPU selections of the geometric and
#            uncertainty methods on the same inputs
#   perf     python -m benchmark.perf.gpu: the speed figures and the PASS/FAIL line
#   suite    the gpu-fashion suite on CUDA, then its report and a time breakdown; it gets
#            the wall-clock budget left, so a slow run is cut short and reported as it stands
# Optional steps (name them in STEPS): compile (perf_gpu --compile --skip-throughput),
# alltests (the whole test suite).
#
# Outputs in $OUT, flat (at most 8 files): summary.txt, gpu_check.log, perf_gpu.jsonl,
# parity.jsonl, suite_times.json, leaderboard.md, suite.tar.gz (run files and the report),
# perf_compile.jsonl (compile step only).
#
# Environment: OUT (required); TINY=1 runs every step on the CPU at tiny sizes, to check
# this script without a GPU; STEPS (space-separated, default "env install tests parity perf
# suite"); BUDGET_S (wall-clock budget of the whole script; default 540, TINY 900); CARRY
# (default device_carry); DATA_DIR (the data dir of the suite; default CARRY when it holds
# fashion-mnist/, else /usr/share/datasets); WORK (runs and cache; default
# results/runs/gpu-check, kept so that a rerun on the same machine resumes; FRESH=1 clears it).
set -u -o pipefail
cd "$(dirname "$0")/.."

if [ -z "${OUT:-}" ]; then
    echo "error: set OUT to the folder for the outputs, e.g. OUT=/tmp/gpu_out bash scripts/gpu_check.sh" >&2
    exit 2
fi
mkdir -p "$OUT"
rm -f "$OUT"/{summary.txt,gpu_check.log,perf_gpu.jsonl,parity.jsonl,perf_compile.jsonl,suite_times.json,leaderboard.md,suite.tar.gz}
export OUT PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
TINY=${TINY:-0}
CARRY=${CARRY:-device_carry}
STEPS=${STEPS:-env install tests parity perf suite}
if [ "$TINY" = 1 ]; then
    DEVICE=cpu; SIZE=--tiny; BUDGET_S=${BUDGET_S:-900}; WORK=${WORK:-results/runs/gpu-check-tiny}
else
    DEVICE=cuda; SIZE=; BUDGET_S=${BUDGET_S:-540}; WORK=${WORK:-results/runs/gpu-check}
fi
if [ -z "${DATA_DIR:-}" ]; then
    if [ -d "$CARRY/fashion-mnist" ]; then DATA_DIR=$CARRY; else DATA_DIR=/usr/share/datasets; fi
fi
if [ "$TINY" = 1 ] || [ "${FRESH:-0}" = 1 ]; then rm -rf "$WORK"; fi
mkdir -p "$WORK"
export AKD_BENCH_CACHE="$(cd "$WORK" && pwd)/cache"
export CARRY DEVICE SIZE DATA_DIR WORK
PY=${PY:-python3}
export PY
RESERVE_S=40   # kept back from the suite for its report and the packing of the outputs

exec > >(tee -a "$OUT/gpu_check.log") 2>&1
TEE_PID=$!
trap 'exec >&- 2>&-; wait "$TEE_PID" 2>/dev/null' EXIT   # let tee write the last lines
START=$(date +%s)
SUMMARY="$OUT/summary.txt"
FAILED=""
echo "gpu_check: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), TINY=$TINY, device $DEVICE, budget ${BUDGET_S}s," \
     "steps: $STEPS, data dir $DATA_DIR, work $WORK, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    | tee "$SUMMARY"

wanted() {  # report goes with suite
    case " $STEPS " in *" $1 "*) return 0 ;; esac
    [ "$1" = report ] && case " $STEPS " in *" suite "*) return 0 ;; esac
    return 1
}
left() { echo $(( BUDGET_S - ($(date +%s) - START) )); }
note() { if [ -s "$1" ]; then echo "          $(tail -n 1 "$1")" >> "$SUMMARY"; fi; }  # a verdict line

# step NAME LIMIT_S COMMAND: run COMMAND (a bash string) under a time limit, log its wall time.
step() {
    local name=$1 limit=$2 cmd=$3
    wanted "$name" || return 0
    local avail=$(( $(left) - RESERVE_S ))
    [ "$name" = suite ] && limit=$avail
    if [ "$limit" -gt "$avail" ]; then limit=$avail; fi
    if [ "$limit" -lt 5 ]; then
        printf '%-9s SKIPPED  (budget spent)\n' "$name" | tee -a "$SUMMARY"
        FAILED="$FAILED $name"
        return 0
    fi
    echo; echo "=== [$name] $(date -u +%T), limit ${limit}s: $cmd"
    local t0 rc dt
    t0=$(date +%s.%N)
    timeout --kill-after=15 "$limit" bash -o pipefail -c "$cmd"
    rc=$?
    dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    local status=ok
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=TIMEOUT; elif [ $rc -ne 0 ]; then status=FAILED; fi
    printf '%-9s %-8s %7ss  rc=%d\n' "$name" "$status" "$dt" "$rc" | tee -a "$SUMMARY"
    [ $rc -eq 0 ] || FAILED="$FAILED $name"
}

step env 60 '
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
    echo "cpus: $(nproc)"; uname -srm
    $PY - <<EOF
import importlib.metadata as m, platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda available", torch.cuda.is_available(),
      "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
for p in ("datasets", "dill", "multiprocess", "pyarrow", "fsspec", "huggingface-hub", "xxhash", "pandas",
          "transformers", "numpy", "scipy", "pytest", "akd-bench"):
    try:
        print(f"  {p} {m.version(p)}")
    except m.PackageNotFoundError:
        print(f"  {p} (not installed)")
EOF
    du -sh "$CARRY" "$DATA_DIR/fashion-mnist" 2>/dev/null || true'

step install 180 '
    if ! $PY -c "import datasets" 2>/dev/null; then
        ls "$CARRY"/wheels/*.whl || { echo "datasets missing and no wheels in $CARRY/wheels (run scripts/prepare_device.sh)"; exit 1; }
        $PY -m pip install -q --no-index --no-deps --no-cache-dir --find-links "$CARRY/wheels" datasets dill multiprocess || exit 1
    fi
    $PY -c "import datasets; print(\"datasets\", datasets.__version__, \"imports\")" || exit 1
    if ! $PY -c "import importlib.metadata as m; m.version(\"akd-bench\")" 2>/dev/null; then
        $PY -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir -e . || exit 1
    fi
    $PY -c "import importlib.metadata as m; print(\"akd-bench\", m.version(\"akd-bench\"), \"installed\")"'

# The test files that mention CUDA or the GPU, and in them the tests named so (collecting
# only those files keeps a broken test module elsewhere from stopping this step).
step tests 240 '$PY -m pytest -q -p no:cacheprovider -k "cuda or gpu" $(grep -l -i -E "cuda|gpu" tests/test_*.py)'

step parity 240 '$PY -m benchmark.perf.gpu_parity --device "$DEVICE" $SIZE | tee "$OUT/parity.jsonl"'
note "$OUT/parity.jsonl"

step perf 300 '$PY -m benchmark.perf.gpu --device "$DEVICE" $SIZE | tee "$OUT/perf_gpu.jsonl"'
note "$OUT/perf_gpu.jsonl"

step compile 300 '$PY -m benchmark.perf.gpu --device "$DEVICE" $SIZE --compile --skip-throughput | tee "$OUT/perf_compile.jsonl"'
note "$OUT/perf_compile.jsonl"

step alltests 300 '$PY -m pytest -q -p no:cacheprovider tests'

if [ "$TINY" = 1 ]; then
    SUITE=$($PY scripts/tiny_suite.py "$WORK/suite") || SUITE=missing-tiny-suite
    SUITE_NAME=gpu-fashion-tiny
else
    SUITE=gpu-fashion; SUITE_NAME=gpu-fashion
fi
export SUITE SUITE_NAME
step suite 0 '$PY run_benchmark.py run --suite "$SUITE" --device "$DEVICE" --data-dir "$DATA_DIR" --out "$WORK/runs" --no-progress'

# The report of the runs stored so far, finished or not, and where their time went.
RESERVE_S=10
step report 60 '
    rc=0
    $PY run_benchmark.py report --out "$WORK/runs" --suite "$SUITE_NAME" || rc=1
    cp "$WORK/runs/leaderboard/$SUITE_NAME/leaderboard.md" "$OUT/leaderboard.md" || rc=1
    $PY scripts/suite_times.py "$WORK/runs" --suite "$SUITE_NAME" --json "$OUT/suite_times.json" || rc=1
    tar czf "$OUT/suite.tar.gz" -C "$WORK" runs || rc=1
    exit $rc'

TOTAL=$(( $(date +%s) - START ))
if [ -n "$FAILED" ]; then
    echo "gpu_check: FAILED:$FAILED (total ${TOTAL}s)" >> "$SUMMARY"
else
    echo "gpu_check: all steps passed (total ${TOTAL}s)" >> "$SUMMARY"
fi
echo; echo "=== summary"; cat "$SUMMARY"
[ -z "$FAILED" ]
