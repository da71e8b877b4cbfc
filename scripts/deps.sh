#!/bin/bash
# Installs the Debian 12 packages sbv2c builds with (only those missing).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcjson-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev libutf8proc-dev libmecab-dev open-jtalk-mecab-naist-jdic
      libmicrohttpd-dev libopusenc-dev libopus-dev libmp3lame-dev curl)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
