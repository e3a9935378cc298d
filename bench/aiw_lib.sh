# Helpers the aiwarden benchmark scripts share (sourced after ../shared/bench-peers/lib.sh, whose
# log and die they use). Each script sets PEER_PID (aiwarden's pid), AIW_ADMIN (its admin port)
# and TOKEN (its admin token) before calling these.

# aiw_wait_ready LOGFILE WHAT: polls /ready on the admin port until 200 (at most 30 s) while
# aiwarden lives; otherwise logs the tail of LOGFILE and dies naming WHAT.
aiw_wait_ready() {
  local logfile="$1" what="$2" i
  for ((i = 0; i < 300; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$AIW_ADMIN/ready")" == 200 ]] && return 0
    kill -0 "$PEER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "$(tail -20 "$logfile")"
  die "$what did not become ready"
}

admin_get() { curl -s --max-time 2 -H "X-Proxy-Token: $TOKEN" "http://127.0.0.1:$AIW_ADMIN$1"; }

json_field() {  # json_field FILE a.b.c -> value or empty
  python3 -c 'import json,sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split("."): v = v[k]
    print(v)
except Exception: pass' "$1" "$2"
}
