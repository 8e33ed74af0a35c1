#!/usr/bin/env bash
# Singer pipelines from PyPI against a MongoDB(-compatible) server; recipe and findings in pipelines.md.
#
#   pipelines.sh install DIR
#       Python 3.11 venvs under DIR, each with exact pins (verified 2026-12-03, CPython 3.11.7):
#         DIR/pw-tap     pipelinewise-tap-mongodb 1.5.0      (change streams: LOG_BASED)
#         DIR/pw-target  pipelinewise-target-postgres 2.1.2
#         DIR/si-tap     tap-mongodb 3.3.0 (singer-io)       (oplog: LOG_BASED)
#         DIR/si-mongo   macrometa-target-mongo 1.0.0        (MongoDB Singer target; declares
#                        Python <3.11, installed with --ignore-requires-python and works on 3.11)
#         DIR/si-jsonl   target-jsonl 0.1.4                   (fallback sink)
#       Idempotent: a venv whose marker matches its pins is skipped. A pip failure prints one
#       line naming the venv and its log, and exits 1.
#
#   pipelines.sh user DIR URI DB [USER PASS]
#       Creates USER (default forge/forge) in admin (role root; pipelinewise authenticates there)
#       and in DB (readWrite DB + read local; singer-io tap-mongodb authenticates against DB).
#       An existing user is kept.
#
#   pipelines.sh select DIR CATALOG TAP_STREAM_ID METHOD
#       Marks one stream of a discovered catalog selected with replication-method METHOD
#       (LOG_BASED, FULL_TABLE, INCREMENTAL); every other stream unselected. Edits in place.
#
#   pipelines.sh si-state DIR URI TAP_STREAM_ID FILE
#       Writes a first-run state for singer-io tap-mongodb LOG_BASED that starts at the newest
#       oplog entry. Needed on the test server: it ignores sort $natural:-1 on local.oplog.rs,
#       so the tap's own first bookmark is the OLDEST entry and its first pass replays the
#       namespace's whole oplog history (ghost documents of an earlier, dropped incarnation).
#
#   pipelines.sh pw-setup DIR URI DB COLL PGPORT SCHEMA WORK | pw-sync DIR WORK TAG
#   pipelines.sh si-setup DIR URI DB COLL SINKDB WORK | si-sync DIR WORK TAG
#       One pipeline at a time, as the tests drive them: setup writes the configs and catalog
#       under WORK and runs the first pass (before any traffic); each sync is one more pass.
#
#   pipelines.sh pw-stream DIR WORK TAG AWAIT_MS
#       After pw-setup: one pass run as a continuous pipeline, until the change stream has
#       been quiet for AWAIT_MS, the target loading each record as it comes (configs
#       WORK/tap-stream.json and WORK/target-stream.json: find its processes by them).
#
#   pipelines.sh e2e DIR URI PGPORT WORK [N]
#       The whole recipe, end to end, for both pipelines (needs forge at $FORGE, default
#       target/debug/forge of this checkout, and PostgreSQL on 127.0.0.1:PGPORT, user postgres, trust):
#       users, fresh collections shop.orders_pw_RUN / shop.orders_si_RUN (RUN: the epoch second;
#       a fresh name matters, see pipelines.md on the oplog), discovery, first syncs,
#       N (default 2000) forge CDC operations per collection, timed second syncs, a third idle
#       pw sync, row counts and forge verify of every sink. Files and logs land in WORK.
set -euo pipefail

PY=${PYTHON:-python3.11}
ME=$(basename "$0")
die() { echo "$ME: $*" >&2; exit 1; }

# name|entry point|pip flags|pins (the verified `pip freeze` of the venv)
VENVS=(
"pw-tap|tap-mongodb||pipelinewise-tap-mongodb==1.5.0 attrs==26.1.0 backoff==1.10.0 ciso8601==2.4.1 dnspython==2.1.0 jsonschema==3.2.0 pipelinewise-singer-python==1.3.0 pymongo==4.7.3 pyrsistent==0.20.0 python-dateutil==4.0.0 pytz==2020.5 simplejson==3.17.2 six==1.17.0 terminaltables==3.1.10 tzdata==2026.6 tzlocal==2.1"
"pw-target|target-postgres||pipelinewise-target-postgres==2.1.2 attrs==26.1.0 backoff==1.10.0 ciso8601==2.4.1 inflection==0.3.1 joblib==1.2.0 jsonschema==3.2.0 pipelinewise-singer-python==1.3.0 psycopg2-binary==2.9.5 pyrsistent==0.20.0 python-dateutil==4.0.0 pytz==2020.5 simplejson==3.17.2 six==1.17.0 tzdata==2026.6"
"si-tap|tap-mongodb||tap-mongodb==3.3.0 backoff==2.2.1 ciso8601==2.4.1 dnspython==2.9.2 jsonschema==2.6.0 pymongo==4.10.1 python-dateutil==2.9.0.post0 pytz==2026.6 simplejson==3.20.2 singer-python==6.3.0 six==1.17.0 tzlocal==2.0.0"
"si-mongo|macrometa-target-mongo|--ignore-requires-python|macrometa-target-mongo==1.0.0 adjust-precision-for-schema==0.3.4 attrs==26.1.0 backoff==1.8.0 c8connector==0.0.32 certifi==2026.10.19.post1 charset-normalizer==3.5.3 ciso8601==2.4.1 click==8.5.1 dnspython==2.9.2 fastapi==0.65.1 h11==0.16.0 idna==3.20 jsonschema==3.2.0 pipelinewise-singer-python==1.2.0 prometheus-client==0.16.0 psycopg2-binary==2.9.3 pydantic==1.10.27 pymongo==4.20.1 pyrsistent==0.20.0 python-dateutil==4.0.0 pytz==2020.5 requests==2.34.2 simplejson==3.11.1 six==1.17.0 starlette==0.14.2 typing_extensions==4.16.0 tzdata==2026.6 urllib3==2.8.0 uvicorn==0.18.0"
"si-jsonl|target-jsonl||target-jsonl==0.1.4 adjust-precision-for-schema==0.3.3 backoff==1.8.0 ciso8601==2.4.1 jsonschema==2.6.0 python-dateutil==4.0.0 pytz==2018.4 simplejson==3.11.1 singer-python==5.8.0 tzdata==2026.6"
)

install() {
  local dir=$1 spec name entry flags pins venv marker log
  "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
    || die "$PY is not CPython 3.11 (set PYTHON=...)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  for spec in "${VENVS[@]}"; do
    IFS='|' read -r name entry flags pins <<<"$spec"
    venv=$dir/$name marker=$dir/$name/.pipelines-pins log=$dir/$name.pip.log
    if [ -x "$venv/bin/$entry" ] && [ "$(cat "$marker" 2>/dev/null)" = "$pins" ]; then
      echo "$name: already installed" >&2
      continue
    fi
    echo "$name: installing ${pins%% *}" >&2
    rm -rf "$venv"
    # shellcheck disable=SC2086 # flags and pins are word lists
    if ! { "$PY" -m venv "$venv" \
        && "$venv/bin/pip" install --disable-pip-version-check --no-input -q $flags $pins; } >"$log" 2>&1; then
      die "pip install of ${pins%% *} into $venv failed (log: $log: $(grep -m1 -E 'ERROR|Error' "$log" || tail -n 1 "$log"))"
    fi
    [ -x "$venv/bin/$entry" ] || die "$venv/bin/$entry missing after install (log: $log)"
    echo "$pins" >"$marker"
  done
}

user() {
  local dir=$1 uri=$2 db=$3 u=${4:-forge} p=${5:-forge}
  "$dir/pw-tap/bin/python" - "$uri" "$db" "$u" "$p" <<'EOF'
import sys, pymongo
uri, db, u, p = sys.argv[1:5]
c = pymongo.MongoClient(uri, directConnection=True)
for name, roles in (("admin", ["root"]),
                    (db, [{"role": "readWrite", "db": db}, {"role": "read", "db": "local"}])):
    if c[name].command({"usersInfo": u})["users"]:
        continue
    c[name].command("createUser", u, pwd=p, roles=roles)
EOF
}

select_stream() {
  local dir=$1
  shift
  "$dir/pw-tap/bin/python" - "$@" <<'EOF'
import json, sys
path, sid, method = sys.argv[1:4]
cat = json.load(open(path))
found = False
for s in cat["streams"]:
    for m in s["metadata"]:
        if m["breadcrumb"] == []:
            sel = s["tap_stream_id"] == sid
            m["metadata"]["selected"] = sel
            if sel:
                m["metadata"]["replication-method"] = method
                found = True
if not found:
    sys.exit("no stream %s in %s" % (sid, path))
json.dump(cat, open(path, "w"), indent=2)
EOF
}

si_state() {
  local dir=$1
  shift
  "$dir/si-tap/bin/python" - "$@" <<'EOF'
import json, sys, time, pymongo
uri, sid, path = sys.argv[1:4]
c = pymongo.MongoClient(uri, directConnection=True)
newest = c.local.oplog.rs.find_one(sort=[("ts", pymongo.DESCENDING)])["ts"]
# "version" must be there: without it the tap overwrites the bookmark with its own
# ($natural-sorted, here the oldest) timestamp.
json.dump({"bookmarks": {sid: {"last_replication_method": "LOG_BASED", "oplog_ts_time": newest.time,
                               "oplog_ts_inc": newest.inc, "version": int(time.time() * 1000)}}},
          open(path, "w"))
EOF
}

# last STATE value of a Singer message file -> FILE
last_state() {
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
last = None
for line in open(sys.argv[1]):
    if line.startswith('{"type": "STATE"'):
        last = json.loads(line)["value"]
if last is None:
    sys.exit("no STATE message in " + sys.argv[1])
json.dump(last, open(sys.argv[2], "w"))
EOF
}

count_records() { grep -c '"type": "RECORD"' "$1" || true; }

# One pass of a Singer pipeline: TAP | tee WORK/TAG.singer | TARGET, resuming from
# WORK/state.json and keeping there the tap's last STATE. The target re-emits the tap's
# state only after it flushed records; on a pass with no record its output keeps the
# first STATE it saw (no resume token). Both exited 0, so everything the tap emitted is
# loaded: the tap's last STATE is the state to keep.
# $1=name (for errors) $2=tap $3=tap config $4=target $5=target config $6=WORK $7=tag
pass() {
  local name=$1 tap=$2 tap_config=$3 target=$4 target_config=$5 w=$6 tag=$7 state=()
  [ -f "$w/state.json" ] && state=(--state "$w/state.json")
  "$tap" -c "$tap_config" --catalog "$w/catalog.json" "${state[@]}" 2>"$w/$tag.tap.err" \
    | tee "$w/$tag.singer" \
    | "$target" -c "$target_config" >"$w/$tag.target-state" 2>"$w/$tag.target.err" \
    || die "$name $tag pass failed: see $w/$tag.*.err"
  last_state "$w/$tag.singer" "$w/state.json"
}

# pipelinewise: tap-mongodb | target-postgres, one pass. $1=DIR $2=WORK/pw $3=tag
# [$4: the configs' suffix, tap$4.json and target$4.json]
sync_pw() {
  local dir=$1 w=$2 tag=$3 configs=${4:-}
  pass pipelinewise "$dir/pw-tap/bin/tap-mongodb" "$w/tap$configs.json" \
    "$dir/pw-target/bin/target-postgres" "$w/target$configs.json" "$w" "$tag"
}

# pipelinewise as a continuous pipeline: one pass that lasts until the change stream
# has been quiet for AWAIT_MS (the tap's await_time_ms; the server holds each getMore
# that long), the target loading every record as it comes (batch_size_rows 1: by
# default it loads per 100,000 records or at the end of the pass).
# $1=DIR $2=WORK/pw $3=tag $4=AWAIT_MS
stream_pw() {
  local dir=$1 w=$2 tag=$3 await=$4
  "$PY" - "$w" "$await" <<'EOF'
import json, sys
w, await_ms = sys.argv[1], int(sys.argv[2])
for name, key, value in (("tap", "await_time_ms", await_ms), ("target", "batch_size_rows", 1)):
    config = json.load(open("%s/%s.json" % (w, name)))
    config[key] = value
    json.dump(config, open("%s/%s-stream.json" % (w, name), "w"))
EOF
  sync_pw "$dir" "$w" "$tag" -stream
}

# singer-io: tap-mongodb | (target-mongo, and the same stream into target-jsonl). $1=DIR $2=WORK/si $3=tag
sync_si() {
  local dir=$1 w=$2 tag=$3
  pass singer-io "$dir/si-tap/bin/tap-mongodb" "$w/tap.json" \
    "$dir/si-mongo/bin/macrometa-target-mongo" "$w/target-mongo.json" "$w" "$tag"
}

sync_si_jsonl() {
  local dir=$1 w=$2 tag=$3
  # target-jsonl 0.1.4 dies (decimal.DivisionImpossible) on tap-mongodb's "multipleOf": 1E-34
  # for Decimal128 fields whose value is >= 1000: drop the keyword from SCHEMA messages.
  sed -E 's/, *"multipleOf": *1E-34//g; s/"multipleOf": *1E-34, *//g' "$w/$tag.singer" \
    | "$dir/si-jsonl/bin/target-jsonl" -c "$w/target-jsonl.json" >"$w/$tag.jsonl-state" 2>"$w/$tag.jsonl.err" \
    || die "target-jsonl $tag failed: see $w/$tag.jsonl.err"
}

# host and port of a mongodb:// URI -> $host $port
host_port() {
  local hostport=${1#mongodb://}
  hostport=${hostport%%/*}; hostport=${hostport##*@}
  host=${hostport%:*} port=${hostport##*:}
}

# pipelinewise, ready to sync DB.COLL (which must exist) into PostgreSQL's SCHEMA.COLL:
# users, configs, catalog, and the first pass (it only records where the change stream starts).
pw_setup() {
  local dir=$1 uri=$2 db=$3 coll=$4 pgport=$5 schema=$6 w=$7 host port
  host_port "$uri"
  mkdir -p "$w"; rm -f "$w/state.json"
  user "$dir" "$uri" "$db"
  cat >"$w/tap.json" <<EOF
{"host": "$host", "port": $port, "user": "forge", "password": "forge", "auth_database": "admin", "database": "$db"}
EOF
  cat >"$w/target.json" <<EOF
{"host": "127.0.0.1", "port": $pgport, "user": "postgres", "password": "unused", "dbname": "postgres", "default_target_schema": "$schema", "hard_delete": true}
EOF
  "$dir/pw-tap/bin/tap-mongodb" -c "$w/tap.json" --discover >"$w/catalog.json" 2>"$w/discover.err" \
    || die "pipelinewise discovery failed: $w/discover.err"
  select_stream "$dir" "$w/catalog.json" "$db-$coll" LOG_BASED
  sync_pw "$dir" "$w" run1
}

# singer-io, ready to sync DB.COLL (which must exist) into MongoDB's SINKDB.COLL: users,
# configs, catalog, a state at the newest oplog entry, and the first pass.
si_setup() {
  local dir=$1 uri=$2 db=$3 coll=$4 sinkdb=$5 w=$6 host port
  host_port "$uri"
  mkdir -p "$w"; rm -f "$w/state.json"
  user "$dir" "$uri" "$db"
  cat >"$w/tap.json" <<EOF
{"host": "$host", "port": "$port", "user": "forge", "password": "forge", "database": "$db"}
EOF
  cat >"$w/target-mongo.json" <<EOF
{"host": "$host", "port": $port, "user": "forge", "password": "forge", "auth_database": "admin", "database": "$sinkdb", "target_collection": "$coll", "hard_delete": true, "batch_size_rows": 1000, "batch_flush_interval": 1, "batch_flush_min_time_gap": 1}
EOF
  "$dir/si-tap/bin/tap-mongodb" -c "$w/tap.json" --discover >"$w/catalog.json" 2>"$w/discover.err" \
    || die "singer-io discovery failed: $w/discover.err"
  select_stream "$dir" "$w/catalog.json" "$db-$coll" LOG_BASED
  si_state "$dir" "$uri" "$db-$coll" "$w/state.json"
  sync_si "$dir" "$w" run1
}

e2e() {
  local dir=$1 uri=$2 pgport=$3 work=$4 n=${5:-2000}
  local forge=${FORGE:-$(cd "$(dirname "$0")/.." && pwd)/target/debug/forge} t0 t1
  local psql="/usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -p $pgport -U postgres -d postgres -Atq"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$work/pw" "$work/si/jsonl"
  work=$(cd "$work" && pwd)
  local pw=$work/pw si=$work/si run
  run=$(date +%s)
  local cpw=orders_pw_$run csi=orders_si_$run

  "$dir/pw-tap/bin/python" - "$uri" "$cpw" "$csi" <<'EOF'
import sys, pymongo
c = pymongo.MongoClient(sys.argv[1], directConnection=True)
for coll in sys.argv[2:]:
    c.shop.create_collection(coll)       # discovery only lists existing collections
EOF
  rm -f "$si"/jsonl/*
  cat >"$si/target-jsonl.json" <<EOF
{"destination_path": "$si/jsonl", "do_timestamp_file": false}
EOF

  echo "== first passes (before any traffic)"
  pw_setup "$dir" "$uri" shop "$cpw" "$pgport" forge_pw "$pw"
  echo "pw run1: $(count_records "$pw/run1.singer") records; state: $(cat "$pw/state.json")"
  si_setup "$dir" "$uri" shop "$csi" sink "$si"
  echo "si run1: $(count_records "$si/run1.singer") records; state: $(cat "$si/state.json")"

  echo "== traffic: $n operations on each collection"
  for c in pw si; do
    "$forge" generate --output mongo-cdc --uri "$uri" --db shop --collection "orders_${c}_$run" -n "$n" --seed 1 \
      --operation-ratios insert:40,update:35,replace:5,delete:20 --update-strategy mixed \
      --journal "$work/$c/run.journal" --journal-docs -q
  done

  echo "== second passes"
  t0=$(date +%s.%N); sync_pw "$dir" "$pw" run2; t1=$(date +%s.%N)
  echo "pw run2: $(count_records "$pw/run2.singer") records in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s (tap | target-postgres)"
  t0=$(date +%s.%N); sync_si "$dir" "$si" run2; t1=$(date +%s.%N)
  echo "si run2: $(count_records "$si/run2.singer") records in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s (tap | target-mongo)"
  t0=$(date +%s.%N); sync_si_jsonl "$dir" "$si" run2; t1=$(date +%s.%N)
  echo "si run2 -> target-jsonl: $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"

  echo "== third pipelinewise pass (no new traffic)"
  sync_pw "$dir" "$pw" run3
  echo "pw run3: $(count_records "$pw/run3.singer") records"

  echo "== counts"
  "$dir/pw-tap/bin/python" - "$uri" "$cpw" "$csi" <<'EOF'
import sys, pymongo
c = pymongo.MongoClient(sys.argv[1], directConnection=True)
cpw, csi = sys.argv[2:4]
print("source shop.%s:" % cpw, c.shop[cpw].count_documents({}))
print("source shop.%s:" % csi, c.shop[csi].count_documents({}))
print("sink   sink.%s (target-mongo):" % csi, c.sink[csi].count_documents({}))
EOF
  echo "postgres forge_pw.$cpw: $($psql -c "select count(*) from forge_pw.$cpw")"
  # target-jsonl writes bare records; forge verify wants Singer messages: wrap them again.
  "$PY" - "$si/jsonl/$csi.jsonl" "$si/jsonl-wrapped.singer" "$csi" <<'EOF'
import json, sys
alive = set()
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        (alive.discard if r.get("_sdc_deleted_at") else alive.add)(r["_id"])
        out.write(json.dumps({"type": "RECORD", "stream": sys.argv[3], "record": r}) + "\n")
print("jsonl %s: %d documents alive after replay" % (sys.argv[1], len(alive)))
EOF

  echo "== forge verify"
  v() { echo "-- $1"; shift; "$forge" verify "$@" 2>&1 | grep -vE '^\s+(\{|`)' | head -n 8 || true; }
  v "pipelinewise -> postgres" --journal "$pw/run.journal" --sink "postgres://postgres@127.0.0.1:$pgport/postgres" \
    --sink-table "forge_pw.$cpw" --sink-types flattened --report "$pw/verify-pg.json"
  v "pipelinewise tap output (Singer)" --journal "$pw/run.journal" --sink "$pw/run2.singer" --sink-types flattened \
    --report "$pw/verify-singer.json"
  v "singer-io tap output (Singer)" --journal "$si/run.journal" --sink "$si/run2.singer" --sink-types flattened \
    --report "$si/verify-singer.json"
  v "singer-io -> target-mongo" --journal "$si/run.journal" --uri "$uri" --sink "$uri" --db sink --collection "$csi" \
    --sink-types flattened --report "$si/verify-mongo.json"
  v "singer-io -> target-jsonl (rewrapped)" --journal "$si/run.journal" --sink "$si/jsonl-wrapped.singer" \
    --sink-types flattened --report "$si/verify-jsonl.json"
}

case "${1:-}" in
  install) install "${2:?usage: $ME install DIR}" ;;
  user) shift; [ $# -ge 3 ] || die "usage: $ME user DIR URI DB [USER PASS]"; user "$@" ;;
  si-state) shift; [ $# -eq 4 ] || die "usage: $ME si-state DIR URI TAP_STREAM_ID FILE"; si_state "$@" ;;
  select) shift; [ $# -eq 4 ] || die "usage: $ME select DIR CATALOG TAP_STREAM_ID METHOD"; select_stream "$@" ;;
  pw-setup) shift; [ $# -eq 7 ] || die "usage: $ME pw-setup DIR URI DB COLL PGPORT SCHEMA WORK"; pw_setup "$@" ;;
  pw-sync) shift; [ $# -eq 3 ] || die "usage: $ME pw-sync DIR WORK TAG"; sync_pw "$@" ;;
  pw-stream) shift; [ $# -eq 4 ] || die "usage: $ME pw-stream DIR WORK TAG AWAIT_MS"; stream_pw "$@" ;;
  si-setup) shift; [ $# -eq 6 ] || die "usage: $ME si-setup DIR URI DB COLL SINKDB WORK"; si_setup "$@" ;;
  si-sync) shift; [ $# -eq 3 ] || die "usage: $ME si-sync DIR WORK TAG"; sync_si "$@" ;;
  e2e) shift; [ $# -ge 4 ] || die "usage: $ME e2e DIR URI PGPORT WORK [N]"; e2e "$@" ;;
  *) echo "usage: $ME install DIR | user DIR URI DB [USER PASS] | select DIR CATALOG ID METHOD | si-state DIR URI ID FILE | pw-setup DIR URI DB COLL PGPORT SCHEMA WORK | pw-sync DIR WORK TAG | pw-stream DIR WORK TAG AWAIT_MS | si-setup DIR URI DB COLL SINKDB WORK | si-sync DIR WORK TAG | e2e DIR URI PGPORT WORK [N]" >&2; exit 2 ;;
esac
