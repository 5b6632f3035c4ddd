#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine:
# the real servers the integration tests start on loopback, then the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# influxdb: InfluxDB 1.6 (v1 /write and InfluxQL); victoria-metrics: a second line-protocol store;
# mosquitto: the external MQTT broker; openssl: test certificates for MQTT over TLS;
# python3-cryptography: the example Python device (examples/python) that proves the protocol doc;
# chromium (with fonts-liberation for legible screenshots): the headless browser the dashboard test
# drives through playwright-core (browsers are never downloaded by Playwright); haproxy: the load balancer
# in front of three nodes in the failure drills (test/drills); prometheus: Prometheus and promtool, which run
# deploy/prometheus/prometheus.yml against a real node (test/docs/prometheus-stack.test.ts); gcc, make,
# pkg-config, libmbedtls-dev (ES256), libsodium-dev (EdDSA), libcurl4-openssl-dev and libmosquitto-dev: the C
# device library (devices/c) and its Linux example device, built and run against a node by test/devices.
packages=(influxdb victoria-metrics mosquitto openssl python3 python3-cryptography chromium fonts-liberation haproxy
  prometheus gcc make pkg-config libmbedtls-dev libsodium-dev libcurl4-openssl-dev libmosquitto-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # The tests start their own servers on free ports; keep the packages' services from starting.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ "$created_policy" -eq 0 ] || $sudo rm -f "$policy"
fi

npm ci --no-audit --no-fund
