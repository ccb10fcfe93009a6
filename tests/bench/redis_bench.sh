# redis-server and redis-benchmark over loopback in the same sandbox:
# prints the requests/s of the test named by $1 (get or set).
d=$(mktemp -d)
redis-server --port 16398 --bind 127.0.0.1 --save '' > $d/log 2>&1 & p=$!
for i in $(seq 100); do redis-cli -p 16398 ping > /dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -p 16398 -n 20000 -t "$1" --csv | awk -F'"' 'NR == 2 {print $4}'
kill $p; wait $p; rm -rf $d
