#!/usr/bin/env bash
# The whole test run: lints, unit tests, and the compatibility suite that
# compares every program's output under husk with native Linux.
# Installs what it needs (idempotently); safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need gcc || ! need perl || ! need python3; then
    apt-get update -qq && apt-get install -y -qq gcc perl python3 >/dev/null
fi
# Servers and tools the end-to-end commands run (tests/e2e.txt).
servers="nginx-light redis-server iperf3 iputils-ping postgresql fio strace gdb acl bubblewrap"
if ! need nginx || ! need redis-server || ! need iperf3 || ! need ping || ! need fio || ! need strace || ! need gdb || ! need setfacl || ! need bwrap || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    { apt-get install -y -qq $servers || { apt-get update -qq && apt-get install -y -qq $servers; }; } >/dev/null
fi

# A static busybox: the OCI lifecycle tests build their bundle from it;
# ip and nsenter play an engine configuring a container's network.
if ! dpkg -s busybox-static >/dev/null 2>&1 || ! need ip || ! need nsenter; then
    { apt-get install -y -qq busybox-static iproute2 util-linux || { apt-get update -qq && apt-get install -y -qq busybox-static iproute2 util-linux; }; } >/dev/null
fi

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings

echo "== build"
cargo build --release --quiet -p runtime

echo "== README compatibility table is generated from the syscall table"
./tests/readme-table.sh --check

echo "== unit tests and the compatibility suite"
cargo test --workspace --release
