#!/usr/bin/env bash
# Make sure a WebGPU adapter exists. Dawn needs Vulkan; on a machine without a GPU that is
# Mesa's lavapipe, version 24 or newer (Debian bookworm ships 22.3, which Dawn refuses),
# so on bookworm we add the bookworm-backports suite to the existing apt source entry.
set -euo pipefail

have_lavapipe_or_gpu() {
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || return 1
  ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null | grep -q . || return 1
  # lavapipe from bookworm itself (22.x) is not enough
  if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    local v
    v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
    dpkg --compare-versions "$v" ge 24 || return 1
  fi
  return 0
}

if have_lavapipe_or_gpu; then
  echo "setup: a Vulkan driver is present ($(dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers 2>/dev/null || echo 'vendor driver'))"
  exit 0
fi

sources=/etc/apt/sources.list.d/debian.sources
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "$codename" != "bookworm" ] || [ ! -f "$sources" ]; then
  cat >&2 <<MSG
setup: no usable Vulkan driver found, and this is not Debian bookworm with $sources.
Install a Vulkan driver for your GPU, or Mesa's lavapipe >= 24 (package mesa-vulkan-drivers)
together with the Vulkan loader (libvulkan1), then run this again.
MSG
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: installing the Vulkan driver needs root: run 'sudo $0'" >&2
  exit 1
fi

if ! grep -qE '^Suites:.*\bbookworm-backports\b' "$sources"; then
  echo "setup: adding bookworm-backports to the 'bookworm' entry of $sources"
  # Append the suite to the entry that already lists plain 'bookworm' (same mirror, same key).
  sed -i -E '/^Suites:/{/(^|[[:space:]])bookworm([[:space:]]|$)/s/$/ bookworm-backports/}' "$sources"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "setup: installed $(dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers)"
