#!/usr/bin/env bash
# Runs the workers bench (bench/workers-scaling.ts) on a machine without Node or network, from what
# bench/device/pack.sh put in .device/: unpacks Node and VictoriaMetrics into $DEVICE_BIN (default
# /tmp/telemetry-device), node_modules into the checkout, and writes the bench's log, its BENCH_RESULT line and the
# machine's facts into $OUT (default ./device-out). Arguments go to the bench (--workers 1,2,8, --pin yes|no,
# --quick). Pinning needs taskset (util-linux); without it the bench runs unpinned and says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${DEVICE_BIN:-/tmp/telemetry-device}
out=${OUT:-./device-out}
mkdir -p "$bin" "$out"
[[ -f .device/node.xz ]] || { echo ".device/ is missing: run bash bench/device/pack.sh first, and carry .device" >&2; exit 1; }
# The bundle's node_modules leaves out DuckDB and the tools: never put it over a developer's own.
if [[ -d node_modules && ! -f node_modules/.device-bundle ]]; then
  echo "node_modules exists and is not the bundle's: run this on the device machine, or in a copy of the tree" >&2
  exit 1
fi

# xz where the machine has it, Python's lzma where it has that instead.
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1"; else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  fi
}
unxz_to .device/node.xz > "$bin/node"
unxz_to .device/victoria-metrics.xz > "$bin/victoria-metrics"
chmod +x "$bin/node" "$bin/victoria-metrics"
cp .device/libzstd.so.1 "$bin/"
rm -rf node_modules
unxz_to .device/node_modules.tar.xz | tar -x
touch node_modules/.device-bundle
export PATH="$bin:$PATH" LD_LIBRARY_PATH="$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

{
  echo "date: $(date -u +%FT%TZ)"
  echo "cores: $(nproc) of $(grep -c ^processor /proc/cpuinfo); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "kernel: $(uname -r)"
  echo "node: $(command -v node) $(node --version)"
  echo "victoria-metrics: $(command -v victoria-metrics)"
  echo "taskset: $(command -v taskset || echo 'none: the bench runs unpinned')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$out/machine.txt"

TELEMETRY_BENCH_RUNTIME=built node node_modules/tsx/dist/cli.mjs bench/workers-scaling.ts "$@" 2>&1 | tee "$out/workers-scaling.log"
grep '^BENCH_RESULT ' "$out/workers-scaling.log" | tail -1 | sed 's/^BENCH_RESULT //' > "$out/workers-scaling.json"
