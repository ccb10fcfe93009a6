#!/usr/bin/env bash
# Docker end to end with husk as a runtime (opt-in: not part of
# tests/run.sh). Installs docker.io when missing, starts dockerd with
# husk registered when no dockerd runs, imports a static busybox rootfs
# as an image, and checks what a user of `docker run --runtime=husk`
# expects, Docker's default seccomp profile included (the sentry
# enforces it).
#
#   ./tests/docker.sh            (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
husk=$PWD/target/release/husk
[ -x "$husk" ] || cargo build --release --quiet -p runtime

need() { command -v "$1" >/dev/null 2>&1; }
if ! need docker || ! need dockerd; then
    { apt-get install -y -qq docker.io || { apt-get update -qq && apt-get install -y -qq docker.io; }; } >/dev/null
fi
if ! dpkg -s busybox-static >/dev/null 2>&1; then
    apt-get install -y -qq busybox-static >/dev/null
fi
started=
if ! docker info >/dev/null 2>&1; then
    dockerd --add-runtime "husk=$husk" >/tmp/husk-dockerd.log 2>&1 &
    started=$!
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
trap '[ -n "$started" ] && kill $started' EXIT
if ! docker info 2>/dev/null | grep -q 'Runtimes:.*husk'; then
    echo "a dockerd runs without the husk runtime: add {\"runtimes\": {\"husk\": {\"path\": \"$husk\"}}} to /etc/docker/daemon.json and reload it" >&2
    exit 1
fi

# The image: busybox and its applets.
t=$(mktemp -d)
mkdir -p "$t/root/bin" "$t/root/etc" "$t/root/tmp"
cp /bin/busybox "$t/root/bin/"
for a in $(/bin/busybox --list | grep -vx busybox); do ln -s busybox "$t/root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$t/root/etc/passwd"
tar -C "$t/root" -cf "$t/root.tar" .
docker import "$t/root.tar" husk-busybox:test >/dev/null

fails=0
check() { # name, expected, actual
    if [ "$2" = "$3" ]; then echo "PASS $1"; else echo "FAIL $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
run() { docker run --rm --runtime=husk "$@"; }

check "echo" "hi" "$(run husk-busybox:test echo hi)"
set +e
run husk-busybox:test sh -c 'exit 7'; code=$?
set -e
check "exit status" "7" "$code"
check "env and workdir" "bar /tmp" "$(run -e FOO=bar -w /tmp husk-busybox:test sh -c 'echo $FOO $(pwd)')"
check "hostname" "box" "$(run --hostname box husk-busybox:test hostname)"
check "user" "1000:1000" "$(run -u 1000:1000 husk-busybox:test sh -c 'echo $(id -u):$(id -g)')"
docker rm -f husk-test-d >/dev/null 2>&1 || true
docker run -d --name husk-test-d --runtime=husk husk-busybox:test \
    sh -c 'trap "echo term; exit 0" TERM; echo up; while :; do sleep 0.1; done' >/dev/null
sleep 0.5
check "exec" "in" "$(docker exec husk-test-d echo in)"
check "exec status" "3" "$(docker exec husk-test-d sh -c 'exit 3'; echo $?)"
check "top lists the container's processes" "yes" "$(docker top husk-test-d | grep -q task && echo yes)"
docker pause husk-test-d >/dev/null
check "pause" "paused" "$(docker inspect husk-test-d --format '{{.State.Status}}')"
docker unpause husk-test-d >/dev/null
check "unpause" "in" "$(docker exec husk-test-d echo in)"
docker update --memory 300m --memory-swap 600m husk-test-d >/dev/null
check "update --memory" "307200 kB" "$(docker exec husk-test-d sh -c 'grep MemTotal /proc/meminfo' | tr -s ' ' | cut -d' ' -f2-)"
check "stats" "yes" "$(docker stats --no-stream --format '{{.MemUsage}}' husk-test-d | grep -q 'MiB /' && echo yes)"
docker stop -t 5 husk-test-d >/dev/null
check "logs and stop (SIGTERM reaches the process)" "up term" "$(docker logs husk-test-d | tr '\n' ' ' | sed 's/ $//')"
check "stopped status" "0" "$(docker inspect husk-test-d --format '{{.State.ExitCode}}')"
docker rm husk-test-d >/dev/null
mkdir -p "$t/vol" && echo data > "$t/vol/in"
check "bind mount rw" "data" "$(run -v "$t/vol:/v" husk-busybox:test sh -c 'cat /v/in; echo out > /v/out')"
check "bind mount rw reaches the host" "out" "$(cat "$t/vol/out")"
check "bind mount ro" "refused" "$(run -v "$t/vol:/v:ro" husk-busybox:test sh -c '(echo x > /v/x) 2>/dev/null || echo refused')"
check "read-only root" "refused" "$(run --read-only husk-busybox:test sh -c '(echo x > /x) 2>/dev/null || echo refused')"
check "network none: lo only" "lo" "$(run --network none husk-busybox:test sh -c 'ip -o -4 addr | cut -d" " -f2')"
check "network host" "$(hostname)" "$(run --network host husk-busybox:test hostname)"
check "tty" "/dev/pts/0" "$( (sleep 1; echo 'tty; exit') | script -qc "docker run -it --rm --runtime=husk husk-busybox:test sh" /dev/null | tr -d '\r' | grep '^/dev/pts' | head -1)"
check "--memory" "262144 kB" "$(run --memory 256m husk-busybox:test sh -c 'grep MemTotal /proc/meminfo' | tr -s ' ' | cut -d' ' -f2-)"
check "--cpuset-cpus" "1" "$(run --cpuset-cpus 0 --cpus 0.5 husk-busybox:test nproc)"
check "--pids-limit (a fork bomb is contained)" "contained" "$(run --pids-limit 8 husk-busybox:test sh -c '(for i in $(seq 30); do sleep 1 & done) 2>/dev/null; echo contained')"
check "default seccomp profile (unshare refused, as with runc)" "refused" "$(run husk-busybox:test sh -c 'unshare -n true 2>/dev/null || echo refused')"
cat > "$t/profile.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
JSON
check "--security-opt seccomp=PROFILE" "denied" "$(run --security-opt "seccomp=$t/profile.json" husk-busybox:test sh -c 'mkdir /tmp/x 2>/dev/null || echo denied')"
docker rmi husk-busybox:test >/dev/null
rm -rf "$t"
echo "docker: $fails failed"
[ "$fails" = 0 ]
