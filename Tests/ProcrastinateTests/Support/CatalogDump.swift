/// Describes every procrastinate object through the system catalogs, one text line each,
/// in a canonical order, so that two databases can be compared line by line. Function
/// bodies are left out (ours are our own text); everything else is in.
enum CatalogDump {
  static let query = #"""
    WITH ours AS (
      SELECT c.oid, c.relname, c.relkind
      FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace
        AND (c.relname LIKE 'procrastinate%' OR c.relname LIKE 'idx_procrastinate%')
    )
    SELECT line FROM (
      SELECT 'relation ' || relname || ' kind=' || relkind::text AS line FROM ours
      UNION ALL
      SELECT 'column ' || o.relname || '.' || a.attname || ' #' || a.attnum || ' '
        || format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
        || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
        || CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END
        || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
      FROM ours o
      JOIN pg_attribute a ON a.attrelid = o.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = o.oid AND d.adnum = a.attnum
      WHERE o.relkind IN ('r', 'c')
      UNION ALL
      SELECT 'constraint ' || o.relname || '.' || con.conname || ' ' || pg_get_constraintdef(con.oid)
      FROM ours o JOIN pg_constraint con ON con.conrelid = o.oid
      UNION ALL
      SELECT 'index ' || o.relname || ' ' || pg_get_indexdef(o.oid) FROM ours o WHERE o.relkind = 'i'
      UNION ALL
      SELECT 'trigger ' || pg_get_triggerdef(t.oid)
      FROM ours o JOIN pg_trigger t ON t.tgrelid = o.oid AND NOT t.tgisinternal
      UNION ALL
      SELECT 'sequence ' || o.relname || ' ' || format_type(s.seqtypid, NULL) || ' start ' || s.seqstart
        || ' increment ' || s.seqincrement || ' owned by '
        || coalesce((SELECT t.relname || '.' || a.attname FROM pg_depend dep
                     JOIN pg_class t ON t.oid = dep.refobjid
                     JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
                     WHERE dep.objid = o.oid AND dep.classid = 'pg_class'::regclass
                       AND dep.deptype IN ('a', 'i')), '-')
      FROM ours o JOIN pg_sequence s ON s.seqrelid = o.oid
      UNION ALL
      SELECT 'enum ' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE t.typname LIKE 'procrastinate%'
      GROUP BY t.typname
      UNION ALL
      SELECT 'type ' || t.typname || ' typtype=' || t.typtype::text
      FROM pg_type t
      WHERE t.typnamespace = 'public'::regnamespace AND t.typname LIKE 'procrastinate%'
      UNION ALL
      SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') returns '
        || pg_get_function_result(p.oid) || ' language ' || l.lanname || ' volatility ' || p.provolatile::text
        || ' strict ' || p.proisstrict || ' security definer ' || p.prosecdef || ' kind ' || p.prokind::text
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
      WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'procrastinate%'
    ) AS catalog
    ORDER BY line
    """#
}
