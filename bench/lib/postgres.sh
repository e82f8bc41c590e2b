# A throw-away PostgreSQL from the local binaries, as every bench script starts one (sourced, not run): initdb into a
# directory, its default settings (fsync, full_page_writes, synchronous_commit on), loopback only, trust
# authentication for the postgres user. The caller sets pg_bin. Used by bench/lib/system.sh and bench/yardsticks/run.sh.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_postgres() { # start_postgres <dir> <port> <database>: the cluster in <dir>/pg, its log in <dir>/postgres.log
  local dir=$1 port=$2 database=$3
  mkdir "$dir/pg" "$dir/pg-socket"
  touch "$dir/postgres.log"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pg" "$dir/pg-socket" "$dir/postgres.log"
  as_postgres "$pg_bin/initdb" -D "$dir/pg" -U postgres -E UTF8 --locale=C --auth=trust > "$dir/initdb.log" 2>&1
  as_postgres "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/postgres.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -c 'unix_socket_directories=$dir/pg-socket'" start > /dev/null
  "$pg_bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $database" > /dev/null
}

stop_postgres() { # stop_postgres <dir>
  [ -f "$1/pg/postmaster.pid" ] && as_postgres "$pg_bin/pg_ctl" -D "$1/pg" -m immediate -w stop > /dev/null 2>&1 || true
}
