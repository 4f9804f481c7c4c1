#!/usr/bin/env bash
# Install the browser the dashboard tests drive: Debian's chromium and chromium-driver
# (/usr/bin/chromium, /usr/bin/chromedriver). Does nothing when both are there already.
set -euo pipefail
chromium=/usr/bin/chromium
driver=/usr/bin/chromedriver

if [ -x "$chromium" ] && [ -x "$driver" ]; then
  echo "browser.sh: $chromium and $driver already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "browser.sh: not root and no sudo: install chromium and chromium-driver as root" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null; then
  echo "browser.sh: no apt-get here: install Chromium and a matching chromedriver at" \
       "$chromium and $driver" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "browser.sh: $chromium or $driver missing: installing chromium and chromium-driver"
echo "+ ${sudo[*]:+${sudo[*]} }apt-get update"
${sudo[@]+"${sudo[@]}"} apt-get update -q
echo "+ ${sudo[*]:+${sudo[*]} }apt-get install -y --no-install-recommends chromium chromium-driver"
${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends chromium chromium-driver

for path in "$chromium" "$driver"; do
  [ -x "$path" ] || { echo "browser.sh: $path still missing after install" >&2; exit 1; }
done
"$driver" --version
echo "browser.sh: done"
