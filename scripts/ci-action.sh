#!/usr/bin/env bash
# The simctl GitHub Action's work (action.yml runs it); usable from any CI or shell too.
#
#   scripts/ci-action.sh start   install simctl (unless SIMCTL_INSTALL=false), start `simctl replay` in the
#                                background, wait for /health, export the URLs (GITHUB_ENV, GITHUB_OUTPUT)
#   scripts/ci-action.sh stop    stop it (SIGTERM: streams in flight finish), print its summary, exit with its
#                                exit code (4: cassette misses under --fail-on-unmatched, 3: verdict failed)
#
# Settings (environment; action.yml maps its inputs to them):
#   SIMCTL_ARGS     arguments for `simctl replay`, shell-quoted ("--cassette cassettes/ --fail-on-unmatched")
#   SIMCTL_PORT     port on 127.0.0.1 (8000); one server per port, stop names the same port
#   SIMCTL_REPORT   the run report written at stop (simctl-report.json); SIMCTL_LOG its log (simctl-replay.log)
#   SIMCTL_INSTALL  true: a virtual environment in $RUNNER_TEMP with simctl from SIMCTL_SOURCE (this
#                   repository); false: the `simctl` on PATH
#   SIMCTL_PYTHON   the Python (>= 3.12) to install with (python3)
#   SIMCTL_API_KEY  exported as OPENAI_API_KEY for later steps (sk-simctl-ci); empty: not exported
#   SIMCTL_WAIT     seconds to wait for /health (60)
# The server runs on past this script (later steps use it); a job's end kills it anyway, but only
# `stop` writes the report, so run stop with `if: always()`.
set -euo pipefail

command=${1:-}
port=${SIMCTL_PORT:-8000}
host=127.0.0.1
state="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/simctl-action-$port"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { echo "simctl action: $*" >&2; }

absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

export_var() {  # NAME VALUE FILE: append to a GitHub Actions command file when there is one
  if [ -n "${3:-}" ]; then printf '%s=%s\n' "$1" "$2" >>"$3"; fi
}

install() {
  if [ "${SIMCTL_INSTALL:-true}" != "true" ]; then
    command -v simctl || { say "SIMCTL_INSTALL=false but there is no simctl on PATH"; exit 1; }
    return
  fi
  local python=${SIMCTL_PYTHON:-python3} source=${SIMCTL_SOURCE:-$here/..}
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    say "simctl needs Python >= 3.12 and '$python' is not one (add actions/setup-python, or set the python input)"
    exit 1
  fi
  say "installing simctl from $source with $python"
  "$python" -m venv "$state/venv" >&2
  "$state/venv/bin/python" -m pip install -q --disable-pip-version-check "$source" >&2
  echo "$state/venv/bin/simctl"
}

start() {
  if [ -f "$state/simctl.pid" ] && kill -0 "$(cat "$state/simctl.pid")" 2>/dev/null; then
    say "a server started by this script already runs on port $port (pid $(cat "$state/simctl.pid"))"
    exit 1
  fi
  mkdir -p "$state"
  rm -f "$state/simctl.pid" "$state/exit-code"
  local simctl report log args=()
  simctl=$(install)
  report=$(absolute "${SIMCTL_REPORT:-simctl-report.json}")
  log=$(absolute "${SIMCTL_LOG:-simctl-replay.log}")
  # Quoted arguments split as a shell would, without evaluating anything in them.
  "${SIMCTL_PYTHON:-python3}" -c 'import os, shlex, sys
try:
    words = shlex.split(os.environ.get("SIMCTL_ARGS", ""))
except ValueError as e:
    sys.exit(f"simctl action: the arguments {os.environ.get("SIMCTL_ARGS")!r}: {e}")
print(*(w + "\0" for w in words), sep="", end="")' >"$state/args"
  mapfile -d '' -t args <"$state/args"
  printf '%s\n' "$report" >"$state/report-path"
  printf '%s\n' "$log" >"$state/log-path"
  # A small supervisor keeps simctl's exit code for `stop`, which runs in another step (not its parent).
  nohup bash -c '"$@" & echo $! >"$0/simctl.pid"; wait $!; echo $? >"$0/exit-code"' "$state" \
    "$simctl" replay --host "$host" --port "$port" --report "$report" "${args[@]}" >"$log" 2>&1 </dev/null &
  local url="http://$host:$port" deadline=$((SECONDS + ${SIMCTL_WAIT:-60}))
  until curl -fsS -o /dev/null "$url/health" 2>/dev/null; do
    if [ -f "$state/exit-code" ]; then
      say "simctl replay exited with $(cat "$state/exit-code") before it served:"
      cat "$log" >&2
      exit "$(cat "$state/exit-code")"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "no answer from $url/health after ${SIMCTL_WAIT:-60} s:"
      cat "$log" >&2
      stop_server || true
      exit 1
    fi
    sleep 0.2
  done
  for name in OPENAI_BASE_URL OPENAI_API_BASE; do export_var "$name" "$url/v1" "${GITHUB_ENV:-}"; done
  export_var SIMCTL_URL "$url" "${GITHUB_ENV:-}"
  if [ -n "${SIMCTL_API_KEY-sk-simctl-ci}" ]; then
    export_var OPENAI_API_KEY "${SIMCTL_API_KEY-sk-simctl-ci}" "${GITHUB_ENV:-}"
  fi
  export_var url "$url" "${GITHUB_OUTPUT:-}"
  export_var base-url "$url/v1" "${GITHUB_OUTPUT:-}"
  export_var pid "$(cat "$state/simctl.pid")" "${GITHUB_OUTPUT:-}"
  say "simctl replay serves $url (pid $(cat "$state/simctl.pid")); OPENAI_BASE_URL=$url/v1 for later steps"
}

stop_server() {  # SIGTERM, then wait for the supervisor to record the exit code (SIGKILL after the grace)
  local pid
  pid=$(cat "$state/simctl.pid")
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + ${SIMCTL_STOP_WAIT:-45}))
  until [ -f "$state/exit-code" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "simctl replay did not stop in ${SIMCTL_STOP_WAIT:-45} s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 5))
    fi
    sleep 0.2
  done
}

stop() {
  if [ ! -f "$state/simctl.pid" ]; then
    say "no server was started on port $port by this script (was start run, with the same port?)"
    exit 1
  fi
  stop_server
  local code report log
  code=$(cat "$state/exit-code")
  report=$(cat "$state/report-path")
  log=$(cat "$state/log-path")
  tail -n 100 "$log" >&2  # the run summary: requests, misses, verdict (the whole log is in $log)
  export_var exit-code "$code" "${GITHUB_OUTPUT:-}"
  export_var report "$report" "${GITHUB_OUTPUT:-}"
  export_var log "$log" "${GITHUB_OUTPUT:-}"
  rm -f "$state/simctl.pid"
  if [ -f "$report" ]; then say "run report: $report"; else say "no run report was written ($report)"; fi
  say "simctl replay exited with $code"
  exit "$code"
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
