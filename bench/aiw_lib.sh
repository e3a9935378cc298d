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

# write_h2_sidecar_config FILE DIR PORT: bench/h2.sh's aiwarden for the diagnostic scripts
# (h2_instructions.sh, h2_memory.sh): one worker, no filters, a sidecar listener on PORT whose
# route `/` goes to the shared harness's TLS origin as https://origin.test/ (start_origin first:
# it sets ORIGIN_HTTPS and the CA under $WORK/pki); state in DIR.
write_h2_sidecar_config() {
  local file="$1" dir="$2" port="$3"
  cat >"$file" <<EOF
workers: 1
state_dir: $dir/state
admin: {address: 127.0.0.1:$(free_port), token: ${TOKEN:-bench-token}}
listeners:
  - {name: agent, type: sidecar, address: 127.0.0.1:$port, routes: [{prefix: /, upstream: "https://origin.test/"}]}
upstream: {ca_file: $WORK/pki/origin-ca.pem, resolve: {"origin.test:443": "127.0.0.1:$ORIGIN_HTTPS"}}
filters: []
EOF
}
