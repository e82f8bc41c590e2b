# Sourced by the scripts that run the whole system (.ci/front-door.sh, bench/proxy/proxy.sh, the screenshot tools):
# starts the AppHost as a terminal does and waits until it is ready; stops it as Ctrl+C does.

# apphost_start LOG COMMAND [TIMEOUT_SECONDS]: runs COMMAND (e.g. `dotnet run --project LlmWorkflow.AppHost`) in a
# process group of its own, its output in LOG, and returns once it prints its ready line; sets apphost_group (the
# group's id, also the command's pid). Returns 1 if it exits first or is not ready within TIMEOUT (default 900 s).
# With job control on, the command gets its own group and not the ignored SIGINT a script's background commands
# otherwise inherit; `env --default-signal=INT` also undoes a SIGINT already ignored when the caller started (CI run
# under nohup), so SIGINT to the group is exactly a terminal's Ctrl+C.
apphost_start() {
  local log=$1 command=$2 deadline=$((SECONDS + ${3:-900}))
  set -m
  env --default-signal=INT bash -c "exec $command" > "$log" 2>&1 < /dev/null &
  apphost_group=$!
  set +m
  until grep -q 'running; press Ctrl+C to stop' "$log"; do
    kill -0 "$apphost_group" 2> /dev/null || { echo "the AppHost exited before it was ready" >&2; return 1; }
    [ $SECONDS -lt $deadline ] || { echo "the AppHost was not ready within ${3:-900} s" >&2; return 1; }
    sleep 1
  done
}

# apphost_dashboard LOG: the Aspire dashboard's login URL, as the AppHost printed it.
apphost_dashboard() { sed -n 's/^Aspire dashboard  *\(http[^ ]*\).*/\1/p' "$1" | head -1; }

# apphost_stop: Ctrl+C to the AppHost's group, then waits for the command; returns its exit code.
apphost_stop() {
  [ -n "${apphost_group:-}" ] || return 0
  kill -INT -- "-$apphost_group" 2> /dev/null || true
  local code=0
  wait "$apphost_group" || code=$?
  apphost_group=""
  return $code
}
