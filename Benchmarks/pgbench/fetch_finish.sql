-- One worker's per-job SQL, as one pgbench transaction: claim a job with
-- procrastinate_fetch_job_v2 and finish it with procrastinate_finish_job_v1.
-- Variables (pgbench -D): queues (a quoted array literal such as '{q}'), worker_id. The caller pre-fills clients × transactions
-- jobs in that queue, so the fetch never comes back empty.
BEGIN;
SELECT id FROM procrastinate_fetch_job_v2(:queues::varchar[], :worker_id) \gset
SELECT procrastinate_finish_job_v1(:id, 'succeeded', false);
COMMIT;
