/// Describes every procrastinate object through the system catalogs, one text line each,
/// in a canonical order, so that two databases can be compared line by line: relations,
/// columns (type, not null, default, identity, generated, collation), constraints, indexes,
/// triggers, sequences and what owns them, enum labels in order, composite attributes in
/// order, and functions (signature, result, language, volatility and other attributes).
/// Function bodies are left out (ours are our own text); everything else is in.
///
/// Only objects in the connection's current schema (the first of `search_path`) whose names
/// start with `procrastinate` or `idx_procrastinate` are described.
enum CatalogDump {
  static let query = #"""
    WITH target AS (
      SELECT oid AS nsp FROM pg_namespace WHERE nspname = current_schema()
    ),
    rel AS (
      SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions
      FROM pg_class AS c, target
      WHERE c.relnamespace = target.nsp
        AND (c.relname LIKE 'procrastinate%' OR c.relname LIKE 'idx_procrastinate%')
    )
    SELECT line FROM (
      SELECT 'relation ' || relname || ' kind=' || relkind::text
        || ' persistence=' || relpersistence::text
        || coalesce(' options=' || array_to_string(reloptions, ','), '') AS line
      FROM rel
      UNION ALL
      SELECT 'column ' || r.relname || '.' || a.attname || ' #' || a.attnum || ' '
        || format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
        || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
        || CASE a.attidentity
             WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END
        || CASE a.attgenerated WHEN 's' THEN ' generated stored' ELSE '' END
        || CASE WHEN a.attcollation <> ty.typcollation
             THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END
      FROM rel AS r
      JOIN pg_attribute AS a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type AS ty ON ty.oid = a.atttypid
      LEFT JOIN pg_attrdef AS d ON d.adrelid = r.oid AND d.adnum = a.attnum
      WHERE r.relkind IN ('r', 'p', 'c')
      UNION ALL
      SELECT 'constraint ' || r.relname || '.' || con.conname || ' '
        || pg_get_constraintdef(con.oid)
      FROM rel AS r JOIN pg_constraint AS con ON con.conrelid = r.oid
      UNION ALL
      SELECT 'index ' || r.relname || ' ' || pg_get_indexdef(r.oid)
      FROM rel AS r WHERE r.relkind = 'i'
      UNION ALL
      SELECT 'trigger ' || t.tgname || ' ' || pg_get_triggerdef(t.oid)
        || ' enabled=' || t.tgenabled::text
      FROM rel AS r JOIN pg_trigger AS t ON t.tgrelid = r.oid AND NOT t.tgisinternal
      UNION ALL
      SELECT 'sequence ' || r.relname || ' ' || format_type(s.seqtypid, NULL)
        || ' start ' || s.seqstart || ' increment ' || s.seqincrement
        || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache
        || ' cycle ' || s.seqcycle
        || ' owned by ' || coalesce((
          SELECT t.relname || '.' || a.attname || ' (' || dep.deptype::text || ')'
          FROM pg_depend AS dep
          JOIN pg_class AS t ON t.oid = dep.refobjid
          JOIN pg_attribute AS a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
          WHERE dep.classid = 'pg_class'::regclass AND dep.objid = r.oid
            AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')), '-')
      FROM rel AS r JOIN pg_sequence AS s ON s.seqrelid = r.oid
      UNION ALL
      SELECT 'type ' || t.typname || ' typtype=' || t.typtype::text
        || CASE t.typtype
             WHEN 'e' THEN ' labels=' || (
               SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
               FROM pg_enum AS e WHERE e.enumtypid = t.oid)
             ELSE '' END
      FROM pg_type AS t, target
      WHERE t.typnamespace = target.nsp AND t.typname LIKE 'procrastinate%'
      UNION ALL
      SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
        || ' arguments (' || pg_get_function_arguments(p.oid) || ')'
        || ' returns ' || pg_get_function_result(p.oid)
        || ' language ' || l.lanname
        || ' kind ' || p.prokind::text
        || ' volatility ' || p.provolatile::text
        || ' strict ' || p.proisstrict::text
        || ' security definer ' || p.prosecdef::text
        || ' leakproof ' || p.proleakproof::text
        || ' parallel ' || p.proparallel::text
        || ' returns set ' || p.proretset::text
        || ' cost ' || p.procost::text
        || ' rows ' || p.prorows::text
        || coalesce(' config ' || array_to_string(p.proconfig, ','), '')
      FROM pg_proc AS p
      JOIN pg_language AS l ON l.oid = p.prolang
      JOIN target ON p.pronamespace = target.nsp
      WHERE p.proname LIKE 'procrastinate%'
    ) AS catalog
    ORDER BY line COLLATE "C"
    """#
}
