#!/usr/bin/env bash
# Installs the Debian 12 packages Zokio needs, only those missing (apt-get update at most once).
# Sourced by example/run.sh and test/run.sh. Needs root (or sudo) when something is missing.
zokio_install_deps() {
  local pkgs=(g++ cmake ninja-build libboost1.81-all-dev libboost1.81-tools-dev libtbb-dev
              liburing-dev libnuma-dev relacy-dev libssl-dev
              prometheus-cpp-dev "$@")
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "zokio: installing missing packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
