#!/usr/bin/env bash
# The pgbench ceiling for the per-job fetch-and-finish SQL:
#   run_pgbench.sh DSN CLIENTS TRANSACTIONS_PER_CLIENT
# Pre-fills CLIENTS × TRANSACTIONS jobs in a fresh queue (untimed), runs fetch_finish.sql,
# checks that every job succeeded, and prints {"clients": C, "tps": X}.
set -euo pipefail
dsn=$1 clients=$2 transactions=$3
here=$(cd "$(dirname "$0")" && pwd)
queue="pgbench_$$"
total=$((clients * transactions))
psql() { command psql "$dsn" -XAtq -v ON_ERROR_STOP=1 "$@"; }

worker=$(psql -c "SELECT worker_id FROM procrastinate_register_worker_v1()")
psql -c "SELECT count(*) FROM unnest(procrastinate_defer_jobs_v1(ARRAY(
  SELECT ROW('$queue', 'bench.noop', 0, NULL, NULL, '{}'::jsonb, NULL)::procrastinate_job_to_defer_v1
  FROM generate_series(1, $total))))" >/dev/null
psql -c "ANALYZE procrastinate_jobs"

output=$(pgbench "$dsn" -n -c "$clients" -j 2 -t "$transactions" -f "$here/fetch_finish.sql" \
  -D queues="'{$queue}'" -D worker_id="$worker" 2>&1) || { echo "$output" >&2; exit 1; }
tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$output")

done=$(psql -c "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = '$queue' AND status = 'succeeded'")
psql -c "SELECT procrastinate_unregister_worker_v1($worker)" >/dev/null
if [ "$done" != "$total" ]; then
  echo "pgbench: only $done of $total jobs succeeded" >&2
  exit 1
fi
echo "{\"clients\": $clients, \"tps\": $tps}"
