// TEMPORARY compile stub; replaced by the real schema file.
import Foundation
package enum SchemaSQL {
  package static let create = try! String(contentsOfFile: "/work/main/.venv/lib/python3.11/site-packages/procrastinate/sql/schema.sql", encoding: .utf8)
  package static let presenceCheck = "SELECT 'table procrastinate_jobs', to_regclass('procrastinate_jobs') IS NOT NULL UNION ALL SELECT 'function procrastinate_retry_job_v2', to_regprocedure('procrastinate_retry_job_v2(bigint,timestamp with time zone,integer,character varying,character varying)') IS NOT NULL"
  package static let anyPresent = "SELECT false"
}
