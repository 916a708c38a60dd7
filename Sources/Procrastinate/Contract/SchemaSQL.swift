/// This project's own SQL for procrastinate 3.10's database contract: the same types,
/// tables, indexes, triggers and functions (names, signatures and behaviour) as
/// `procrastinate schema --apply` creates, so Python procrastinate runs unchanged on a
/// schema we applied, and we run on one Python applied.
///
/// Nothing is schema-qualified: objects land in the first schema of the connection's
/// `search_path`, as with Python.
package enum SchemaSQL {
  /// Opens the transaction that applies the schema, serialised across callers by an
  /// advisory lock on an arbitrary constant key ("procrast").
  static let beginApply = "BEGIN; SELECT pg_advisory_xact_lock(\(0x7072_6F63_7261_7374 as Int64))"
  static let commit = "COMMIT"
  static let rollback = "ROLLBACK"

  /// Creates the whole contract, as one multi-statement script (no BEGIN/COMMIT: the caller
  /// wraps it in a transaction). It fails on a database that already has any of it, like
  /// `procrastinate schema --apply` does, so check ``anyPresent`` / ``presenceCheck`` first.
  package static let create = #"""
    -- plpgsql ships with PostgreSQL, but managed servers may refuse CREATE EXTENSION.
    DO $$
    BEGIN
      CREATE EXTENSION IF NOT EXISTS plpgsql WITH SCHEMA pg_catalog;
    EXCEPTION WHEN OTHERS THEN
      IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'plpgsql') THEN
        RAISE;
      END IF;
    END
    $$;

    -- Types ------------------------------------------------------------------------------

    CREATE TYPE procrastinate_job_status AS ENUM (
      'todo', 'doing', 'succeeded', 'failed', 'cancelled', 'aborting', 'aborted'
    );

    CREATE TYPE procrastinate_job_event_type AS ENUM (
      'deferred', 'started', 'deferred_for_retry', 'failed', 'succeeded', 'cancelled',
      'abort_requested', 'aborted', 'scheduled', 'retried'
    );

    -- One element of a batch defer.
    CREATE TYPE procrastinate_job_to_defer_v1 AS (
      queue_name varchar,
      task_name varchar,
      priority integer,
      lock text,
      queueing_lock text,
      args jsonb,
      scheduled_at timestamptz
    );

    -- Tables -----------------------------------------------------------------------------

    CREATE TABLE procrastinate_workers (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      last_heartbeat timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE procrastinate_jobs (
      id bigserial PRIMARY KEY,
      queue_name varchar(128) NOT NULL,
      task_name varchar(128) NOT NULL,
      priority integer NOT NULL DEFAULT 0,
      lock text,
      queueing_lock text,
      args jsonb NOT NULL DEFAULT '{}',
      status procrastinate_job_status NOT NULL DEFAULT 'todo',
      scheduled_at timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      abort_requested boolean NOT NULL DEFAULT false,
      worker_id bigint REFERENCES procrastinate_workers (id) ON DELETE SET NULL,
      CONSTRAINT check_not_todo_abort_requested
        CHECK (NOT (status = 'todo' AND abort_requested = true))
    );

    CREATE TABLE procrastinate_periodic_defers (
      id bigserial PRIMARY KEY,
      task_name varchar(128) NOT NULL,
      defer_timestamp bigint,
      job_id bigint REFERENCES procrastinate_jobs (id),
      periodic_id varchar(128) NOT NULL DEFAULT '',
      CONSTRAINT procrastinate_periodic_defers_unique UNIQUE (task_name, periodic_id, defer_timestamp)
    );

    CREATE TABLE procrastinate_events (
      id bigserial PRIMARY KEY,
      job_id bigint NOT NULL REFERENCES procrastinate_jobs (id) ON DELETE CASCADE,
      type procrastinate_job_event_type,
      at timestamptz DEFAULT now()
    );

    -- Indexes: the names matter (Python recognises the queueing-lock one in errors). ----

    CREATE UNIQUE INDEX procrastinate_jobs_queueing_lock_idx_v1
      ON procrastinate_jobs (queueing_lock) WHERE status = 'todo';
    CREATE UNIQUE INDEX procrastinate_jobs_lock_idx_v1
      ON procrastinate_jobs (lock) WHERE status = 'doing';
    CREATE INDEX idx_procrastinate_jobs_worker_not_null
      ON procrastinate_jobs (worker_id) WHERE worker_id IS NOT NULL AND status = 'doing';
    CREATE INDEX procrastinate_jobs_queue_name_idx_v1 ON procrastinate_jobs (queue_name);
    CREATE INDEX procrastinate_jobs_id_lock_idx_v1
      ON procrastinate_jobs (id, lock) WHERE status = ANY (ARRAY['todo'::procrastinate_job_status, 'doing'::procrastinate_job_status]);
    CREATE INDEX procrastinate_jobs_priority_idx_v1
      ON procrastinate_jobs (priority DESC, id ASC) WHERE status = 'todo';
    CREATE INDEX procrastinate_events_job_id_fkey_v1 ON procrastinate_events (job_id);
    CREATE INDEX procrastinate_periodic_defers_job_id_fkey_v1 ON procrastinate_periodic_defers (job_id);
    CREATE INDEX idx_procrastinate_workers_last_heartbeat ON procrastinate_workers (last_heartbeat);

    -- Deferring --------------------------------------------------------------------------

    -- Inserts the jobs in array order and returns their ids in the same order.
    CREATE FUNCTION procrastinate_defer_jobs_v1(jobs procrastinate_job_to_defer_v1[])
      RETURNS bigint[] LANGUAGE plpgsql AS $$
    DECLARE
      ids bigint[];
    BEGIN
      WITH created AS (
        INSERT INTO procrastinate_jobs
          (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
        SELECT j.queue_name, j.task_name, j.priority, j.lock, j.queueing_lock, j.args, j.scheduled_at
        FROM unnest(jobs) AS j
        RETURNING id
      )
      SELECT array_agg(id) INTO ids FROM created;
      RETURN ids;
    END
    $$;

    -- One job per (task, periodic id, tick) across all workers; NULL when already deferred.
    CREATE FUNCTION procrastinate_defer_periodic_job_v2(
      _queue_name varchar, _lock varchar, _queueing_lock varchar, _task_name varchar,
      _priority integer, _periodic_id varchar, _defer_timestamp bigint, _args jsonb
    ) RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
      tick_id bigint;
      new_job_id bigint;
    BEGIN
      INSERT INTO procrastinate_periodic_defers (task_name, periodic_id, defer_timestamp)
      VALUES (_task_name, _periodic_id, _defer_timestamp)
      ON CONFLICT DO NOTHING
      RETURNING id INTO tick_id;
      IF tick_id IS NULL THEN
        RETURN NULL;
      END IF;

      new_job_id := (procrastinate_defer_jobs_v1(ARRAY[ROW(
        _queue_name, _task_name, _priority, _lock, _queueing_lock, _args, NULL::timestamptz
      )::procrastinate_job_to_defer_v1]))[1];
      UPDATE procrastinate_periodic_defers SET job_id = new_job_id WHERE id = tick_id;

      -- Keep only the latest tick of this task and periodic id.
      DELETE FROM procrastinate_periodic_defers AS old
      WHERE old.id IN (
        SELECT id FROM procrastinate_periodic_defers
        WHERE task_name = _task_name AND periodic_id = _periodic_id
          AND defer_timestamp < _defer_timestamp
        ORDER BY id
        FOR UPDATE
      );
      RETURN new_job_id;
    END
    $$;

    -- Fetching and finishing -------------------------------------------------------------

    -- Claims the first runnable job (priority DESC, id ASC) of the queues (NULL: all).
    -- A job with a lock waits while another job with that lock runs, or waits ahead of it.
    CREATE FUNCTION procrastinate_fetch_job_v2(target_queue_names varchar[], p_worker_id bigint)
      RETURNS procrastinate_jobs LANGUAGE plpgsql AS $$
    DECLARE
      claimed procrastinate_jobs;
    BEGIN
      WITH next_job AS (
        SELECT candidate.id
        FROM procrastinate_jobs AS candidate
        WHERE candidate.status = 'todo'
          AND (target_queue_names IS NULL OR candidate.queue_name = ANY (target_queue_names))
          AND (candidate.scheduled_at IS NULL OR candidate.scheduled_at <= now())
          AND NOT EXISTS (
            SELECT FROM procrastinate_jobs AS blocker
            WHERE candidate.lock IS NOT NULL
              AND blocker.lock = candidate.lock
              AND (blocker.status = 'doing'
                OR (blocker.status = 'todo'
                  AND (blocker.priority > candidate.priority
                    OR (blocker.priority = candidate.priority AND blocker.id < candidate.id))))
          )
        ORDER BY candidate.priority DESC, candidate.id ASC
        LIMIT 1
        FOR UPDATE OF candidate SKIP LOCKED
      )
      UPDATE procrastinate_jobs AS job
      SET status = 'doing', worker_id = p_worker_id
      FROM next_job
      WHERE job.id = next_job.id
      RETURNING job.* INTO claimed;
      RETURN claimed;
    END
    $$;

    CREATE FUNCTION procrastinate_finish_job_v1(
      job_id bigint, end_status procrastinate_job_status, delete_job boolean
    ) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      touched bigint;
    BEGIN
      IF end_status NOT IN ('succeeded', 'failed', 'aborted') THEN
        RAISE 'End status should be either "succeeded", "failed" or "aborted" (job id: %)', job_id;
      END IF;
      IF delete_job THEN
        DELETE FROM procrastinate_jobs AS job
        WHERE job.id = job_id AND job.status IN ('todo', 'doing')
        RETURNING job.id INTO touched;
      ELSE
        UPDATE procrastinate_jobs AS job
        SET status = end_status,
            abort_requested = false,
            attempts = job.attempts + CASE WHEN job.status = 'doing' THEN 1 ELSE 0 END
        WHERE job.id = job_id AND job.status IN ('todo', 'doing')
        RETURNING job.id INTO touched;
      END IF;
      IF touched IS NULL THEN
        RAISE 'Job was not found or not in "doing" or "todo" status (job id: %)', job_id;
      END IF;
    END
    $$;

    -- Returns the job id when something was done, NULL otherwise.
    CREATE FUNCTION procrastinate_cancel_job_v1(job_id bigint, abort boolean, delete_job boolean)
      RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
      touched bigint;
    BEGIN
      IF delete_job THEN
        DELETE FROM procrastinate_jobs AS job
        WHERE job.id = job_id AND job.status = 'todo'
        RETURNING job.id INTO touched;
      END IF;
      IF touched IS NULL AND abort THEN
        UPDATE procrastinate_jobs AS job
        SET abort_requested = true,
            status = CASE WHEN job.status = 'todo' THEN 'cancelled'::procrastinate_job_status ELSE job.status END
        WHERE job.id = job_id AND job.status IN ('todo', 'doing')
        RETURNING job.id INTO touched;
      ELSIF touched IS NULL THEN
        UPDATE procrastinate_jobs AS job
        SET status = 'cancelled'
        WHERE job.id = job_id AND job.status = 'todo'
        RETURNING job.id INTO touched;
      END IF;
      RETURN touched;
    END
    $$;

    -- Legacy retry (doing jobs only); still part of the 3.10 schema.
    \#(retryFunction(
      "procrastinate_retry_job_v1", whereStatus: "= 'doing'",
      notFound: #"not in "doing" status"#))

    -- Retries a running job (failing it instead when an abort was requested) or a failed one.
    \#(retryFunction(
      "procrastinate_retry_job_v2", whereStatus: "IN ('doing', 'failed')",
      notFound: "has an invalid status to retry"))

    -- Workers ----------------------------------------------------------------------------

    CREATE FUNCTION procrastinate_register_worker_v1()
      RETURNS TABLE (worker_id bigint) LANGUAGE plpgsql AS $$
    BEGIN
      RETURN QUERY INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id;
    END
    $$;

    CREATE FUNCTION procrastinate_unregister_worker_v1(worker_id bigint)
      RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM procrastinate_workers AS w WHERE w.id = procrastinate_unregister_worker_v1.worker_id;
    END
    $$;

    CREATE FUNCTION procrastinate_update_heartbeat_v1(worker_id bigint)
      RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE procrastinate_workers AS w SET last_heartbeat = now()
      WHERE w.id = procrastinate_update_heartbeat_v1.worker_id;
    END
    $$;

    CREATE FUNCTION procrastinate_prune_stalled_workers_v1(seconds_since_heartbeat double precision)
      RETURNS TABLE (worker_id bigint) LANGUAGE plpgsql AS $$
    BEGIN
      RETURN QUERY
      DELETE FROM procrastinate_workers AS w
      WHERE w.last_heartbeat < now() - make_interval(secs => seconds_since_heartbeat)
      RETURNING w.id;
    END
    $$;

    -- Trigger functions ------------------------------------------------------------------

    -- Payloads are the text of json_build_object, as Python's workers expect.
    \#(notifyFunction("procrastinate_notify_queue_job_inserted_v1", type: "job_inserted"))

    \#(notifyFunction("procrastinate_notify_queue_abort_job_v1", type: "abort_job_requested"))

    CREATE FUNCTION procrastinate_trigger_function_status_events_insert_v1()
      RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO procrastinate_events (job_id, type) VALUES (NEW.id, 'deferred');
      RETURN NEW;
    END
    $$;

    -- The event for each status transition; other transitions record nothing.
    CREATE FUNCTION procrastinate_trigger_function_status_events_update_v1()
      RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      event procrastinate_job_event_type;
    BEGIN
      event := CASE
        WHEN OLD.status = 'todo' AND NEW.status = 'doing' THEN 'started'::procrastinate_job_event_type
        WHEN OLD.status = 'doing' AND NEW.status = 'todo' THEN 'deferred_for_retry'
        WHEN OLD.status = 'doing' AND NEW.status = 'failed' THEN 'failed'
        WHEN OLD.status = 'doing' AND NEW.status = 'succeeded' THEN 'succeeded'
        WHEN OLD.status = 'todo' AND NEW.status IN ('cancelled', 'failed', 'succeeded') THEN 'cancelled'
        WHEN OLD.status = 'doing' AND NEW.status = 'aborted' THEN 'aborted'
        WHEN OLD.status = 'failed' AND NEW.status = 'todo' THEN 'retried'
      END;
      IF event IS NOT NULL THEN
        INSERT INTO procrastinate_events (job_id, type) VALUES (NEW.id, event);
      END IF;
      RETURN NEW;
    END
    $$;

    CREATE FUNCTION procrastinate_trigger_function_scheduled_events_v1()
      RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO procrastinate_events (job_id, type, at) VALUES (NEW.id, 'scheduled', NEW.scheduled_at);
      RETURN NEW;
    END
    $$;

    CREATE FUNCTION procrastinate_trigger_abort_requested_events_procedure_v1()
      RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO procrastinate_events (job_id, type) VALUES (NEW.id, 'abort_requested');
      RETURN NEW;
    END
    $$;

    -- A deleted job leaves its periodic tick behind, unlinked.
    CREATE FUNCTION procrastinate_unlink_periodic_defers_v1()
      RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE procrastinate_periodic_defers SET job_id = NULL WHERE job_id = OLD.id;
      RETURN OLD;
    END
    $$;

    -- Triggers ---------------------------------------------------------------------------

    CREATE TRIGGER procrastinate_jobs_notify_queue_job_inserted_v1
      AFTER INSERT ON procrastinate_jobs
      FOR EACH ROW WHEN (NEW.status = 'todo')
      EXECUTE FUNCTION procrastinate_notify_queue_job_inserted_v1();

    CREATE TRIGGER procrastinate_jobs_notify_queue_job_aborted_v1
      AFTER UPDATE OF abort_requested ON procrastinate_jobs
      FOR EACH ROW WHEN (OLD.abort_requested = false AND NEW.abort_requested = true AND NEW.status = 'doing')
      EXECUTE FUNCTION procrastinate_notify_queue_abort_job_v1();

    CREATE TRIGGER procrastinate_trigger_status_events_update_v1
      AFTER UPDATE OF status ON procrastinate_jobs
      FOR EACH ROW
      EXECUTE FUNCTION procrastinate_trigger_function_status_events_update_v1();

    CREATE TRIGGER procrastinate_trigger_status_events_insert_v1
      AFTER INSERT ON procrastinate_jobs
      FOR EACH ROW WHEN (NEW.status = 'todo')
      EXECUTE FUNCTION procrastinate_trigger_function_status_events_insert_v1();

    CREATE TRIGGER procrastinate_trigger_scheduled_events_v1
      AFTER INSERT OR UPDATE ON procrastinate_jobs
      FOR EACH ROW WHEN (NEW.scheduled_at IS NOT NULL AND NEW.status = 'todo')
      EXECUTE FUNCTION procrastinate_trigger_function_scheduled_events_v1();

    CREATE TRIGGER procrastinate_trigger_abort_requested_events_v1
      AFTER UPDATE OF abort_requested ON procrastinate_jobs
      FOR EACH ROW WHEN (NEW.abort_requested = true)
      EXECUTE FUNCTION procrastinate_trigger_abort_requested_events_procedure_v1();

    CREATE TRIGGER procrastinate_trigger_delete_jobs_v1
      BEFORE DELETE ON procrastinate_jobs
      FOR EACH ROW
      EXECUTE FUNCTION procrastinate_unlink_periodic_defers_v1();
    """#

  /// The presence rows of `kind` for the `owner.member` names in `names` (SQL string
  /// literals, comma-separated): `'<label> <name>'` is present when `catalog` has a row
  /// whose `owner` column is the owner (looked up with `resolve`) and whose `member` column
  /// is the member, and the row satisfies `also`.
  private static func memberCheck(
    kind: Int, label: String, catalog: String, owner: String, resolve: String, member: String,
    also: String = "", names: String
  ) -> String {
    #"""
    SELECT \#(kind), m.n, '\#(label) ' || m.name, EXISTS (
      SELECT FROM \#(catalog) AS found
      WHERE found.\#(owner) = \#(resolve)(split_part(m.name, '.', 1))
        AND found.\#(member) = split_part(m.name, '.', 2) \#(also))
    FROM unnest(ARRAY[
    \#(names)
    ]) WITH ORDINALITY AS m(name, n)
    """#
  }

  /// A retry function: the job `job_id`, when its status matches `whereStatus`, goes back to
  /// `todo` at `retry_at` with one more attempt and the new priority, queue and lock where
  /// given, or, when it is `doing` and an abort was requested, to `failed`. Otherwise it
  /// raises "Job was not found or <notFound>".
  private static func retryFunction(_ name: String, whereStatus: String, notFound: String)
    -> String
  {
    #"""
    CREATE FUNCTION \#(name)(
      job_id bigint, retry_at timestamptz, new_priority integer, new_queue_name varchar,
      new_lock varchar
    ) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      current_status procrastinate_job_status;
      wants_abort boolean;
      touched bigint;
    BEGIN
      SELECT job.status, job.abort_requested INTO current_status, wants_abort
      FROM procrastinate_jobs AS job
      WHERE job.id = job_id AND job.status \#(whereStatus)
      FOR UPDATE;
      IF current_status = 'doing' AND wants_abort THEN
        UPDATE procrastinate_jobs AS job SET status = 'failed'
        WHERE job.id = job_id AND job.status = 'doing'
        RETURNING job.id INTO touched;
      ELSE
        UPDATE procrastinate_jobs AS job
        SET status = 'todo',
            attempts = job.attempts + 1,
            scheduled_at = retry_at,
            priority = coalesce(new_priority, job.priority),
            queue_name = coalesce(new_queue_name, job.queue_name),
            lock = coalesce(new_lock, job.lock)
        WHERE job.id = job_id AND job.status \#(whereStatus)
        RETURNING job.id INTO touched;
      END IF;
      IF touched IS NULL THEN
        RAISE 'Job was not found or \#(notFound) (job id: %)', job_id;
      END IF;
    END
    $$;
    """#
  }

  /// A trigger function that sends `{"type": <type>, "job_id": <id>}` on the job's queue
  /// channel and on the any-queue channel (``WorkerSQL/queueChannel(_:)``).
  private static func notifyFunction(_ name: String, type: String) -> String {
    #"""
    CREATE FUNCTION \#(name)()
      RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      message text := json_build_object('type', '\#(type)', 'job_id', NEW.id)::text;
    BEGIN
      PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, message);
      PERFORM pg_notify('procrastinate_any_queue_v1', message);
      RETURN NEW;
    END
    $$;
    """#
  }

  /// One row per object the 3.10 contract requires, `(object text, present boolean)`, in a
  /// fixed order: tables, columns, enum types, enum labels, the composite type, indexes,
  /// constraints, triggers, functions. Names resolve through the connection's `search_path`,
  /// as Python's queries do.
  ///
  /// On PostgreSQL 15 `to_regprocedure` raises (rather than returning NULL) when one of the
  /// argument types is missing, so signatures that use a procrastinate type are only looked
  /// up once that type exists.
  package static let presenceCheck = #"""
    SELECT object, present FROM (
      SELECT 1 AS kind, t.n, 'table ' || t.name AS object, to_regclass(t.name) IS NOT NULL AS present
      FROM unnest(ARRAY[
        'procrastinate_workers', 'procrastinate_jobs', 'procrastinate_periodic_defers',
        'procrastinate_events'
      ]) WITH ORDINALITY AS t(name, n)
      UNION ALL
      \#(memberCheck(
        kind: 2, label: "column", catalog: "pg_attribute", owner: "attrelid", resolve: "to_regclass",
        member: "attname", also: "AND found.attnum > 0 AND NOT found.attisdropped",
        names: """
        'procrastinate_workers.id', 'procrastinate_workers.last_heartbeat',
        'procrastinate_jobs.id', 'procrastinate_jobs.queue_name', 'procrastinate_jobs.task_name',
        'procrastinate_jobs.priority', 'procrastinate_jobs.lock', 'procrastinate_jobs.queueing_lock',
        'procrastinate_jobs.args', 'procrastinate_jobs.status', 'procrastinate_jobs.scheduled_at',
        'procrastinate_jobs.attempts', 'procrastinate_jobs.abort_requested',
        'procrastinate_jobs.worker_id',
        'procrastinate_periodic_defers.id', 'procrastinate_periodic_defers.task_name',
        'procrastinate_periodic_defers.defer_timestamp', 'procrastinate_periodic_defers.job_id',
        'procrastinate_periodic_defers.periodic_id',
        'procrastinate_events.id', 'procrastinate_events.job_id', 'procrastinate_events.type',
        'procrastinate_events.at'
        """))
      UNION ALL
      SELECT 3, e.n, 'enum ' || e.name, to_regtype(e.name) IS NOT NULL
      FROM unnest(ARRAY['procrastinate_job_status', 'procrastinate_job_event_type'])
        WITH ORDINALITY AS e(name, n)
      UNION ALL
      \#(memberCheck(
        kind: 4, label: "enum label", catalog: "pg_enum", owner: "enumtypid", resolve: "to_regtype",
        member: "enumlabel",
        names: """
        'procrastinate_job_status.todo', 'procrastinate_job_status.doing',
        'procrastinate_job_status.succeeded', 'procrastinate_job_status.failed',
        'procrastinate_job_status.cancelled', 'procrastinate_job_status.aborting',
        'procrastinate_job_status.aborted',
        'procrastinate_job_event_type.deferred', 'procrastinate_job_event_type.started',
        'procrastinate_job_event_type.deferred_for_retry', 'procrastinate_job_event_type.failed',
        'procrastinate_job_event_type.succeeded', 'procrastinate_job_event_type.cancelled',
        'procrastinate_job_event_type.abort_requested', 'procrastinate_job_event_type.aborted',
        'procrastinate_job_event_type.scheduled', 'procrastinate_job_event_type.retried'
        """))
      UNION ALL
      SELECT 5, 1, 'type procrastinate_job_to_defer_v1', EXISTS (
        SELECT FROM pg_type AS ct
        WHERE ct.oid = to_regtype('procrastinate_job_to_defer_v1') AND ct.typtype = 'c')
      UNION ALL
      SELECT 6, i.n, 'index ' || i.name, to_regclass(i.name) IS NOT NULL
      FROM unnest(ARRAY[
        'procrastinate_jobs_queueing_lock_idx_v1', 'procrastinate_jobs_lock_idx_v1',
        'idx_procrastinate_jobs_worker_not_null', 'procrastinate_jobs_queue_name_idx_v1',
        'procrastinate_jobs_id_lock_idx_v1', 'procrastinate_jobs_priority_idx_v1',
        'procrastinate_events_job_id_fkey_v1', 'procrastinate_periodic_defers_job_id_fkey_v1',
        'idx_procrastinate_workers_last_heartbeat'
      ]) WITH ORDINALITY AS i(name, n)
      UNION ALL
      \#(memberCheck(
        kind: 7, label: "constraint", catalog: "pg_constraint", owner: "conrelid", resolve: "to_regclass",
        member: "conname",
        names: """
        'procrastinate_jobs.check_not_todo_abort_requested',
        'procrastinate_periodic_defers.procrastinate_periodic_defers_unique'
        """))
      UNION ALL
      SELECT 8, g.n, 'trigger ' || g.name, EXISTS (
        SELECT FROM pg_trigger AS tg
        WHERE tg.tgrelid = to_regclass('procrastinate_jobs') AND tg.tgname = g.name)
      FROM unnest(ARRAY[
        'procrastinate_jobs_notify_queue_job_inserted_v1',
        'procrastinate_jobs_notify_queue_job_aborted_v1',
        'procrastinate_trigger_status_events_insert_v1',
        'procrastinate_trigger_status_events_update_v1',
        'procrastinate_trigger_scheduled_events_v1',
        'procrastinate_trigger_abort_requested_events_v1',
        'procrastinate_trigger_delete_jobs_v1'
      ]) WITH ORDINALITY AS g(name, n)
      UNION ALL
      SELECT 9, f.n, 'function ' || f.signature,
        CASE
          WHEN f.needs_type IS NOT NULL AND to_regtype(f.needs_type) IS NULL THEN false
          ELSE to_regprocedure(f.signature) IS NOT NULL
        END
      FROM (VALUES
        (1, 'procrastinate_defer_jobs_v1(procrastinate_job_to_defer_v1[])',
          'procrastinate_job_to_defer_v1'),
        (2, 'procrastinate_defer_periodic_job_v2(character varying, character varying, character varying, character varying, integer, character varying, bigint, jsonb)',
          NULL),
        (3, 'procrastinate_fetch_job_v2(character varying[], bigint)', NULL),
        (4, 'procrastinate_finish_job_v1(bigint, procrastinate_job_status, boolean)',
          'procrastinate_job_status'),
        (5, 'procrastinate_cancel_job_v1(bigint, boolean, boolean)', NULL),
        (6, 'procrastinate_retry_job_v1(bigint, timestamp with time zone, integer, character varying, character varying)',
          NULL),
        (7, 'procrastinate_retry_job_v2(bigint, timestamp with time zone, integer, character varying, character varying)',
          NULL),
        (8, 'procrastinate_register_worker_v1()', NULL),
        (9, 'procrastinate_unregister_worker_v1(bigint)', NULL),
        (10, 'procrastinate_update_heartbeat_v1(bigint)', NULL),
        (11, 'procrastinate_prune_stalled_workers_v1(double precision)', NULL),
        (12, 'procrastinate_notify_queue_job_inserted_v1()', NULL),
        (13, 'procrastinate_notify_queue_abort_job_v1()', NULL),
        (14, 'procrastinate_trigger_function_status_events_insert_v1()', NULL),
        (15, 'procrastinate_trigger_function_status_events_update_v1()', NULL),
        (16, 'procrastinate_trigger_function_scheduled_events_v1()', NULL),
        (17, 'procrastinate_trigger_abort_requested_events_procedure_v1()', NULL),
        (18, 'procrastinate_unlink_periodic_defers_v1()', NULL)
      ) AS f(n, signature, needs_type)
    ) AS contract
    ORDER BY kind, n
    """#

  /// A single boolean: does any object that ``create`` makes already exist on the
  /// `search_path` (a table, index, type or function of the contract, under any signature)?
  /// When true, ``create`` must not be run.
  package static let anyPresent = #"""
    SELECT EXISTS (
        SELECT FROM unnest(ARRAY[
          'procrastinate_workers', 'procrastinate_jobs', 'procrastinate_periodic_defers',
          'procrastinate_events',
          'procrastinate_jobs_queueing_lock_idx_v1', 'procrastinate_jobs_lock_idx_v1',
          'idx_procrastinate_jobs_worker_not_null', 'procrastinate_jobs_queue_name_idx_v1',
          'procrastinate_jobs_id_lock_idx_v1', 'procrastinate_jobs_priority_idx_v1',
          'procrastinate_events_job_id_fkey_v1', 'procrastinate_periodic_defers_job_id_fkey_v1',
          'idx_procrastinate_workers_last_heartbeat'
        ]) AS r(name)
        WHERE to_regclass(r.name) IS NOT NULL)
      OR EXISTS (
        SELECT FROM unnest(ARRAY[
          'procrastinate_job_status', 'procrastinate_job_event_type',
          'procrastinate_job_to_defer_v1'
        ]) AS t(name)
        WHERE to_regtype(t.name) IS NOT NULL)
      OR EXISTS (
        SELECT FROM pg_proc AS p
        WHERE pg_function_is_visible(p.oid)
          AND p.proname = ANY (ARRAY[
            'procrastinate_defer_jobs_v1', 'procrastinate_defer_periodic_job_v2',
            'procrastinate_fetch_job_v2', 'procrastinate_finish_job_v1',
            'procrastinate_cancel_job_v1', 'procrastinate_retry_job_v1',
            'procrastinate_retry_job_v2', 'procrastinate_register_worker_v1',
            'procrastinate_unregister_worker_v1', 'procrastinate_update_heartbeat_v1',
            'procrastinate_prune_stalled_workers_v1',
            'procrastinate_notify_queue_job_inserted_v1', 'procrastinate_notify_queue_abort_job_v1',
            'procrastinate_trigger_function_status_events_insert_v1',
            'procrastinate_trigger_function_status_events_update_v1',
            'procrastinate_trigger_function_scheduled_events_v1',
            'procrastinate_trigger_abort_requested_events_procedure_v1',
            'procrastinate_unlink_periodic_defers_v1'
          ]::name[]))
      AS any_present
    """#
}
