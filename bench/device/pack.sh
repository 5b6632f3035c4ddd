#!/usr/bin/env bash
# Packs what the workers bench needs on a machine that has neither Node nor network (the 16-core device machine
# of issue 17 item 5) into .device/ (git-ignored), to travel with the working tree as a carried path:
#   .device/node.xz               this machine's Node (official build: needs glibc 2.28 and libstdc++ only)
#   .device/victoria-metrics.xz   the Debian package's VictoriaMetrics, and libzstd.so.1, which it links
#   .device/node_modules.tar.xz   node_modules without what only linting, type-checking, the tests or DuckDB
#                                 need, with the compiled node (node_modules/.cache/telemetry-bench)
# Then, on that machine: bash bench/device/run.sh [workers-scaling options]. See docs/PERFORMANCE.md §4.
set -euo pipefail
cd "$(dirname "$0")/../.."
limit_mib=${DEVICE_PACK_LIMIT_MIB:-56}

npx tsx -e "import('./bench/support/node-runtime.ts').then((m) => m.buildForBench())"
rm -rf .device && mkdir -p .device
xz -T0 -6 -c "$(command -v node)" > .device/node.xz
vm=$(command -v victoria-metrics) || { echo "victoria-metrics not found: apt-get install -y victoria-metrics" >&2; exit 1; }
xz -T0 -6 -c "$vm" > .device/victoria-metrics.xz
cp -L "$(ldconfig -p | awk '/libzstd\.so\.1 .*x86-64/ { print $NF; exit }')" .device/libzstd.so.1

# Left out: the embedded store (a worker on VictoriaMetrics never loads it), and tools the bench does not run.
tar -c \
  --exclude='node_modules/@duckdb' \
  --exclude='node_modules/@biomejs' \
  --exclude='node_modules/typescript' \
  --exclude='node_modules/@rolldown' \
  --exclude='node_modules/rolldown' \
  --exclude='node_modules/playwright-core' \
  --exclude='node_modules/@lmdb' \
  --exclude='node_modules/lmdb' \
  --exclude='node_modules/lightningcss*' \
  --exclude='node_modules/knip' \
  --exclude='node_modules/@oxc-*' \
  --exclude='node_modules/oxc-*' \
  --exclude='node_modules/dependency-cruiser' \
  --exclude='node_modules/vitest' \
  --exclude='node_modules/@vitest' \
  --exclude='node_modules/vite' \
  --exclude='node_modules/@types' \
  --exclude='node_modules/.cache/telemetry-bench/tsbuildinfo' \
  node_modules | xz -T0 -6 > .device/node_modules.tar.xz

tree_kib=$(git ls-files -z | du -c --files0-from=- -k | tail -1 | cut -f1)
pack_kib=$(du -sk .device | cut -f1)
total_mib=$(( (tree_kib + pack_kib) / 1024 ))
ls -l .device
echo "working tree ${tree_kib} KiB + .device ${pack_kib} KiB = ${total_mib} MiB (limit ${limit_mib} MiB of the 64 that travel)"
if (( total_mib > limit_mib )); then
  echo "too large to travel" >&2
  exit 1
fi
