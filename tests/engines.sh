#!/usr/bin/env bash
# husk as the runtime of Docker, containerd and Podman, end to end
# (opt-in: not part of tests/run.sh). For each engine asked for (default:
# all three) it installs the engine's Debian package when missing, starts
# its daemon when none runs (dockerd with husk registered; containerd),
# makes a static busybox image, and checks what a user of that engine
# expects with husk as its runtime, Docker's default seccomp profile
# included (the sentry enforces it).
#
#   ./tests/engines.sh [docker] [containerd] [podman]     (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
husk=$PWD/target/release/husk
[ -x "$husk" ] || cargo build --release --quiet -p runtime
engines=${*:-docker containerd podman}

need() { command -v "$1" >/dev/null 2>&1; }
install() { # package...
    { apt-get install -y -qq "$@" || { apt-get update -qq && apt-get install -y -qq "$@"; }; } >/dev/null
}
dpkg -s busybox-static >/dev/null 2>&1 || install busybox-static
started=()
trap 'for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$t"' EXIT

# The image: busybox and its applets.
t=$(mktemp -d)
mkdir -p "$t/root/bin" "$t/root/etc" "$t/root/tmp" "$t/root/proc" "$t/root/dev" "$t/root/sys"
cp /bin/busybox "$t/root/bin/"
for a in $(/bin/busybox --list | grep -vx busybox); do ln -s busybox "$t/root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$t/root/etc/passwd"
tar -C "$t/root" -cf "$t/root.tar" .

fails=0
http_get() { # host port: the body's last line
    timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2; printf 'GET /index.html HTTP/1.0\r\n\r\n' >&3; cat <&3" 2>/dev/null | tail -1
}
check() { # name, expected, actual
    if [ "$2" = "$3" ]; then echo "PASS $1"; else echo "FAIL $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}

docker_checks() {
    if ! need docker || ! need dockerd; then install docker.io; fi
    if ! docker info >/dev/null 2>&1; then
        dockerd --add-runtime "husk=$husk" >/tmp/husk-dockerd.log 2>&1 &
        started+=($!)
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    fi
    if ! docker info 2>/dev/null | grep 'Runtimes:.*husk' >/dev/null; then
        echo "a dockerd runs without the husk runtime: add {\"runtimes\": {\"husk\": {\"path\": \"$husk\"}}} to /etc/docker/daemon.json and reload it" >&2
        fails=$((fails + 1))
        return
    fi
    docker import "$t/root.tar" husk-busybox:test >/dev/null
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
    check "exec -it" "/dev/pts/0" "$( (sleep 1.5; echo 'tty; exit') | script -qc "docker exec -it husk-test-d sh" /dev/null | tr -d '\r' | grep '^/dev/pts' | head -1)"
    check "top lists the container's processes" "yes" "$(docker top husk-test-d | grep task >/dev/null && echo yes)"
    docker pause husk-test-d >/dev/null
    check "pause" "paused" "$(docker inspect husk-test-d --format '{{.State.Status}}')"
    docker unpause husk-test-d >/dev/null
    check "unpause" "in" "$(docker exec husk-test-d echo in)"
    docker update --memory 300m --memory-swap 600m husk-test-d >/dev/null
    check "update --memory" "307200 kB" "$(docker exec husk-test-d sh -c 'grep MemTotal /proc/meminfo' | tr -s ' ' | cut -d' ' -f2-)"
    check "stats" "yes" "$(docker stats --no-stream --format '{{.MemUsage}}' husk-test-d | grep 'MiB /' >/dev/null && echo yes)"
    docker stop -t 5 husk-test-d >/dev/null
    check "logs and stop (SIGTERM reaches the process)" "up term" "$(docker logs husk-test-d | tr '\n' ' ' | sed 's/ $//')"
    check "stopped status" "0" "$(docker inspect husk-test-d --format '{{.State.ExitCode}}')"
    docker rm husk-test-d >/dev/null
    mkdir -p "$t/vol" && echo data > "$t/vol/in"
    check "bind mount rw" "data" "$(run -v "$t/vol:/v" husk-busybox:test sh -c 'cat /v/in; echo out > /v/out')"
    check "bind mount rw reaches the host" "out" "$(cat "$t/vol/out")"
    check "bind mount ro" "refused" "$(run -v "$t/vol:/v:ro" husk-busybox:test sh -c '(echo x > /v/x) 2>/dev/null || echo refused')"
    check "read-only root" "refused" "$(run --read-only husk-busybox:test sh -c '(echo x > /x) 2>/dev/null || echo refused')"
    docker rm -f husk-test-web >/dev/null 2>&1 || true
    docker run -d --name husk-test-web --runtime=husk -p 18080:80 husk-busybox:test \
        sh -c 'mkdir -p /www && echo served > /www/index.html && httpd -f -p 80 -h /www' >/dev/null
    sleep 1
    check "bridge network: the container's address" "served" "$(http_get "$(docker inspect -f '{{.NetworkSettings.IPAddress}}' husk-test-web)" 80)"
    check "bridge network: -p 18080:80" "served" "$(http_get 127.0.0.1 18080)"
    docker rm -f husk-test-web >/dev/null
    docker network rm husk-test-net >/dev/null 2>&1 || true
    docker network create husk-test-net >/dev/null
    docker run -d --name husk-test-named --network husk-test-net --runtime=husk husk-busybox:test sleep 60 >/dev/null
    check "user-defined network: container names resolve (127.0.0.11)" "$(docker inspect -f '{{(index .NetworkSettings.Networks "husk-test-net").IPAddress}}' husk-test-named)" \
        "$(run --network husk-test-net husk-busybox:test nslookup husk-test-named 2>/dev/null | sed -n 's/^Address: //p' | tail -1)"
    docker rm -f husk-test-named >/dev/null
    docker network rm husk-test-net >/dev/null
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
}

# containerd through ctr, with husk as the runc binary of its runc shim.
containerd_checks() {
    need ctr && need containerd || install containerd
    if ! ctr version >/dev/null 2>&1; then
        containerd >/tmp/husk-containerd.log 2>&1 &
        started+=($!)
        for _ in $(seq 60); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done
    fi
    # --rootfs: the image argument is a directory.
    local c="ctr run --runc-binary $husk"
    ctr task kill -s KILL husk-ctr-d >/dev/null 2>&1 || true
    ctr task rm -f husk-ctr-d >/dev/null 2>&1 || true
    ctr c rm husk-ctr-d >/dev/null 2>&1 || true
    check "ctr: run" "hi $(hostname)" "$($c --rm --rootfs "$t/root" husk-ctr-1 sh -c 'echo hi $(hostname)')"
    set +e
    $c --rm --rootfs "$t/root" husk-ctr-2 sh -c 'exit 7'; code=$?
    set -e
    check "ctr: exit status" "7" "$code"
    check "ctr: /run is a tmpfs" "tmpfs" "$($c --rm --rootfs "$t/root" husk-ctr-3 sh -c 'grep " /run " /proc/mounts | cut -d" " -f3')"
    $c -d --rootfs "$t/root" husk-ctr-d sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
    sleep 0.5
    check "ctr: task exec" "in 4" "$(ctr task exec --exec-id e1 husk-ctr-d sh -c 'echo in; exit 4' | tr -d '\n'; echo " ${PIPESTATUS[0]}")"
    check "ctr: task exec -t" "/dev/pts/0" "$( (sleep 1.5; echo 'tty; exit') | script -qc "ctr task exec -t --exec-id e2 husk-ctr-d sh" /dev/null | tr -d '\r' | grep '^/dev/pts' | head -1)"
    ctr task pause husk-ctr-d
    check "ctr: pause" "PAUSED" "$(ctr task ls | awk '$1 == "husk-ctr-d" {print $3}')"
    ctr task resume husk-ctr-d
    check "ctr: resume" "RUNNING" "$(ctr task ls | awk '$1 == "husk-ctr-d" {print $3}')"
    check "ctr: metrics" "yes" "$(ctr task metrics husk-ctr-d | grep '^memory\.usage' >/dev/null && echo yes)"
    check "ctr: task ps" "yes" "$([ "$(ctr task ps husk-ctr-d | tail -n +2 | wc -l)" -ge 3 ] && echo yes)"
    ctr task kill husk-ctr-d
    for _ in $(seq 50); do ctr task ls | grep 'husk-ctr-d.*STOPPED' >/dev/null && break; sleep 0.1; done
    check "ctr: kill (SIGTERM reaches the process)" "STOPPED" "$(ctr task ls | awk '$1 == "husk-ctr-d" {print $3}')"
    ctr task rm husk-ctr-d >/dev/null
    ctr c rm husk-ctr-d
}

# Podman (conmon) with husk as its OCI runtime.
podman_checks() {
    need podman || install podman
    local p="podman --runtime $husk --cgroup-manager=cgroupfs"
    $p import -q "$t/root.tar" husk-busybox:test >/dev/null
    $p rm -f husk-pd >/dev/null 2>&1 || true
    check "podman: run" "hi" "$($p run --rm husk-busybox:test echo hi)"
    set +e
    $p run --rm husk-busybox:test sh -c 'exit 7'; code=$?
    set -e
    check "podman: exit status" "7" "$code"
    $p run -d --name husk-pd husk-busybox:test sh -c 'trap "echo term; exit 0" TERM; echo up; while :; do sleep 0.1; done' >/dev/null
    sleep 0.5
    check "podman: exec" "in" "$($p exec husk-pd echo in)"
    $p pause husk-pd >/dev/null
    check "podman: pause" "paused" "$($p inspect husk-pd --format '{{.State.Status}}')"
    $p unpause husk-pd >/dev/null
    $p stop -t 5 husk-pd >/dev/null
    check "podman: logs and stop" "up term" "$($p logs husk-pd | tr '\n' ' ' | sed 's/ $//')"
    $p rm husk-pd >/dev/null
    check "podman: --memory" "262144 kB" "$($p run --rm --memory 256m husk-busybox:test sh -c 'grep MemTotal /proc/meminfo' | tr -s ' ' | cut -d' ' -f2-)"
    echo from-host > "$t/passed"
    check "podman: --preserve-fds" "from-host" "$($p run --rm --preserve-fds 1 husk-busybox:test sh -c 'cat <&3' 3<"$t/passed")"
    check "podman: tty" "/dev/pts/0" "$( (sleep 1.5; echo 'tty; exit') | script -qc "$p run -it --rm husk-busybox:test sh" /dev/null | tr -d '\r' | grep '^/dev/pts' | head -1)"
    $p rmi husk-busybox:test >/dev/null
}

for e in $engines; do
    case $e in
        docker | containerd | podman) "${e}_checks" ;;
        *) echo "unknown engine $e (docker, containerd, podman)" >&2; exit 2 ;;
    esac
done
echo "engines ($engines): $fails failed"
[ "$fails" = 0 ]
