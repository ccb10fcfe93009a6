# Requests/s of nginx serving a small file over loopback to wrk (2
# connections), both in the same sandbox. Prints the number.
d=$(mktemp -d) && echo hello-from-nginx > $d/index.html && cat > $d/nginx.conf <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
  server { listen 127.0.0.1:18088; root $d; }
}
CONF
chmod 755 $d; nginx -c $d/nginx.conf -g 'daemon off;' & p=$!
for i in $(seq 50); do curl -s http://127.0.0.1:18088/ >/dev/null 2>&1 && break; sleep 0.1; done
wrk -t 1 -c 2 -d 3s http://127.0.0.1:18088/index.html | awk '/Requests\/sec/ {print $2}'
kill $p; wait $p; rm -rf $d
