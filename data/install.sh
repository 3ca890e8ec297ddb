#!/usr/bin/env bash
# Installs what zoo4j's tests and its default training job need from the operating system:
# a JDK 17, Maven, the real Fashion-MNIST (Debian's dataset-fashion-mnist), and Chromium with its driver for the
# dashboard's browser tests. Idempotent and quick when all is there.
set -euo pipefail
need=()
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
# The dashboard's browser tests (DashboardBrowserTest): headless Chromium driven through its chromedriver.
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "data/install.sh: missing ${need[*]} and no apt-get here. Install a JDK 17 and Maven yourself;" \
       "Fashion-MNIST is then downloaded into ~/.zoo4j/data on first use (./zoo4j data fetch fashion-mnist)." \
       "The dashboard's browser tests need Chromium and chromedriver at /usr/bin/chromium and /usr/bin/chromedriver." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "data/install.sh: installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
