#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing myfs need (run as root, or
# with sudo available). Safe to run again: apt-get skips what is installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  capnproto libcapnp-dev
  librocksdb-dev libboost-dev libtbb-dev libmimalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # programs the integration tests run on /myfs
  tar gzip diffutils findutils coreutils sed python3 git make gcc attr
  # and the applications of tests/integration/apps_test.cc (mpi_shared_file needs mpicc)
  rsync sqlite3 openmpi-bin libopenmpi-dev openssh-client  # mpirun wants an rsh agent present
)

have_all=1
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || { have_all=0; break; }
done
if [ "$have_all" = 1 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${packages[@]}"
