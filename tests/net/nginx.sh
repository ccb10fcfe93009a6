# nginx serving a file over loopback: to curl (an e2e command: run
# natively and under husk, compared), or with `wrk` as $1 to wrk with 2
# connections for 3 s, printing the requests/s (a benchmark row).
d=$(mktemp -d) && echo hello-from-nginx > $d/index.html && cat > $d/nginx.conf <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
  server { listen 127.0.0.1:18089; root $d; }
}
CONF
chmod 755 $d; nginx -c $d/nginx.conf -g 'daemon off;' & p=$!
for i in $(seq 50); do curl -s http://127.0.0.1:18089/ >/dev/null 2>&1 && break; sleep 0.1; done
if [ "$1" = wrk ]; then
    wrk -t 1 -c 2 -d 3s http://127.0.0.1:18089/index.html | awk '/Requests\/sec/ {print $2}'
    kill $p; wait $p; rm -rf $d
    exit
fi
curl -s http://127.0.0.1:18089/index.html; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:18089/missing
kill $p; wait $p; echo nginx=$?; rm -rf $d
