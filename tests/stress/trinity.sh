#!/usr/bin/env bash
# Stress test, not part of the default run: Debian's trinity fuzzes the
# sandbox from inside for a fixed time. It fails on a crash of husk (a
# sentry panic or a signal), on a hang (husk still running well past the
# time), on an error in husk's log, or on any change to the host that a
# sandboxed program could have made.
#
#   tests/stress/trinity.sh [SECONDS]      (default 120)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-120}

if ! command -v trinity >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq trinity >/dev/null
fi
cargo build --release --quiet -p runtime
husk=$PWD/target/release/husk
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What a program inside could change on the host: listings and contents
# of the usual places (the root is an in-memory overlay, so nothing may).
snapshot() {
    for d in / /etc /tmp /usr /usr/bin /root /var/tmp /dev/shm; do
        # Names, modes and owners (link counts and directory times change
        # with host activity), sizes and times of regular files.
        find "$d" -maxdepth 1 -mindepth 1 ! -name "${work##*/}" \
            \( -type f -printf '%p %m %u %g %s %T@\n' -o -printf '%p %m %u %g\n' \) 2>/dev/null
    done | sort
    # (cargo's own cache under /root/.cargo changes with any build running
    # beside the test.)
    find /etc /usr /root -xdev -path /root/.cargo -prune -o -newer "$work/start" -print 2>/dev/null | sort
}
touch "$work/start"
before=$(snapshot)

set +e
# trinity refuses to run as root without --dangerous; inside the sandbox
# "root" is the sandbox's own. -l off: no log files; no socket fds
# (only unix socketpairs exist in the sandbox so far, and trinity would
# retry other families forever). timeout stops it
# cleanly inside, the outer timeout catches a hung sandbox.
timeout --kill-after=30 $((secs + 60)) "$husk" --log "$work/husk.log" do --cwd /tmp -- \
    /bin/sh -c "timeout -s INT -k 15 $secs trinity --dangerous -q -l off -C 4 --disable-fds=sockets; echo trinity-status=\$?" \
    >"$work/out" 2>&1
status=$?
set -e
after=$(snapshot)

fail=0
echo "husk exited with status $status after about ${secs}s of trinity"
if ! grep -q "^trinity-status=" "$work/out"; then
    echo "FAIL: the sandbox did not finish (status $status)"
    fail=1
elif [ "$status" -ne 0 ]; then
    echo "FAIL: husk exited with status $status"
    fail=1
fi
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "FAIL: the sandbox hung (killed by the outer timeout)"
    fail=1
elif [ "$status" -ge 129 ] && [ "$status" -ne 130 ]; then
    echo "FAIL: husk died with signal $((status - 128))"
    fail=1
fi
if grep -E "panicked|refused host syscall" "$work/husk.log"; then
    echo "FAIL: husk's log shows a panic or a refused host call"
    fail=1
fi
if [ "$before" != "$after" ]; then
    echo "FAIL: the host changed"
    diff <(echo "$before") <(echo "$after") | head -20 || true
    fail=1
fi
echo "husk log (last lines):"
tail -5 "$work/husk.log" || true
echo "trinity output (last lines):"
tail -5 "$work/out" || true
if [ "$fail" -eq 0 ]; then
    echo "1 passed, 0 failed"
else
    echo "0 passed, 1 failed"
fi
exit "$fail"
