#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain: the Vulkan loader and Mesa's
# lavapipe, so the wgpu scenarios run on a machine without a GPU. Idempotent; needs root (or
# sudo) on Debian/Ubuntu. On a GPU runner the vendor driver is already there and lavapipe is
# only a fallback that wgpu ranks below the real adapter.
set -euo pipefail

need=()
dpkg -s libvulkan1 >/dev/null 2>&1 || need+=(libvulkan1)
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
if [ ${#need[@]} -eq 0 ]; then
    echo "install-deps: Vulkan loader and lavapipe already installed"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "install-deps: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
