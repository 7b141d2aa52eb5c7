//! Who may do what: row-level security policies, default privileges, privileges.

use super::filters::{COLUMN_PATTERNS, SCHEMAS, not_in_extension, role_name};

/// One grantee's privileges from `aclexplode(…) x`, grouped by grantee: `SELECT, UPDATE
/// (grantable)`, in name order (the privileges of every kind of object read alike).
const GRANTS: &str = "string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' \
                      ELSE '' END, ', ' ORDER BY x.privilege_type)";

/// Row-level security policies.
pub(super) fn policies() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname || '.' || p.polname, jsonb_build_object(
               'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                            WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
               'permissive', p.polpermissive,
               'roles', (SELECT string_agg(rn, ', ' ORDER BY rn)
                         FROM (SELECT {role} AS rn FROM unnest(p.polroles) r) roles),
               'using', pg_get_expr(p.polqual, p.polrelid),
               'with_check', pg_get_expr(p.polwithcheck, p.polrelid))
             FROM pg_policy p
             JOIN pg_class c ON c.oid = p.polrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}",
        role = role_name("r"),
    )
}

/// Default privileges: their own kind (not a dependent one), because they describe no
/// object, so those set on one side only are differences.
pub(super) fn default_privileges() -> String {
    format!(
        "SELECT 'on ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables'
                        WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types'
                        WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END
                      || coalesce(' in schema ' || quote_ident(n.nspname), '')
                      || ' for ' || pg_get_userbyid(d.defaclrole)::text,
                    COALESCE((SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                        SELECT {grantee} AS grantee,
                               {grants} AS privileges
                        FROM aclexplode(d.defaclacl) x GROUP BY x.grantee) g), '{{}}'::jsonb)
             FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
             WHERE d.defaclnamespace = 0 OR {SCHEMAS}",
        grantee = role_name("x.grantee"),
        grants = GRANTS,
    )
}

/// Privileges on tables, columns (unless the columns query brought them: `columns_read`),
/// functions, schemas, types, wrappers and servers.
pub(super) fn privileges(columns_read: bool) -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    let type_ext = not_in_extension("pg_type", "t.oid");
    format!(
        "WITH objects AS (
               SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                        WHEN 'm' THEN 'materialized view' ELSE 'table' END AS kind,
                      quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,
                      COALESCE(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner)) AS acl,
                      c.relowner AS owner
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {SCHEMAS} AND {rel_ext}
               {columns}
               UNION ALL
               SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
                      p.oid::regprocedure::text, COALESCE(p.proacl, acldefault('f'::\"char\", p.proowner)), p.proowner
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE {SCHEMAS} AND {proc_ext}
               UNION ALL
               SELECT 'schema', quote_ident(n.nspname), COALESCE(n.nspacl, acldefault('n'::\"char\", n.nspowner)), n.nspowner
               FROM pg_namespace n WHERE {SCHEMAS} AND {nsp_ext}
               UNION ALL
               SELECT 'type', t.oid::regtype::text, COALESCE(t.typacl, acldefault('T'::\"char\", t.typowner)), t.typowner
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               LEFT JOIN pg_class tc ON tc.oid = t.typrelid
               WHERE {SCHEMAS} AND {type_ext} AND t.typtype IN ('b', 'c', 'd', 'e', 'r', 'm')
                 AND NOT (t.typelem <> 0 AND t.typlen = -1) AND (t.typrelid = 0 OR tc.relkind = 'c')
               UNION ALL
               SELECT 'foreign data wrapper', quote_ident(w.fdwname),
                      COALESCE(w.fdwacl, acldefault('F'::\"char\", w.fdwowner)), w.fdwowner
               FROM pg_foreign_data_wrapper w WHERE {fdw_ext}
               UNION ALL
               SELECT 'server', quote_ident(s.srvname),
                      COALESCE(s.srvacl, acldefault('S'::\"char\", s.srvowner)), s.srvowner
               FROM pg_foreign_server s WHERE {srv_ext}),
             grants AS (
               SELECT o.kind, o.name, x.grantee,
                      {grants} AS privileges
               FROM objects o, aclexplode(o.acl) x
               WHERE x.grantee <> o.owner
               GROUP BY o.kind, o.name, x.grantee)
             SELECT o.kind || ' ' || o.name, COALESCE(g.privileges, '{{}}'::json)
             FROM objects o
             LEFT JOIN (SELECT kind, name, json_object_agg({grantee}, privileges) AS privileges
                        FROM grants GROUP BY kind, name) g
               ON g.kind = o.kind AND g.name = o.name",
        columns = if columns_read {
            String::new()
        } else {
            format!(
                "UNION ALL
               SELECT 'column', quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname),
                      a.attacl, c.relowner
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                 AND {SCHEMAS} AND {rel_ext} AND {COLUMN_PATTERNS}"
            )
        },
        proc_ext = not_in_extension("pg_proc", "p.oid"),
        nsp_ext = not_in_extension("pg_namespace", "n.oid"),
        fdw_ext = not_in_extension("pg_foreign_data_wrapper", "w.oid"),
        srv_ext = not_in_extension("pg_foreign_server", "s.oid"),
        grantee = role_name("grantee"),
        grants = GRANTS,
    )
}

/// The privileges on one column (`a`, of table `c`) as the privileges query gives them:
/// a JSON object of grantee → privileges, `{}` for none but the owner's.
pub(super) fn column_privileges() -> String {
    format!(
        "CASE WHEN a.attacl IS NULL THEN '{{}}' ELSE COALESCE((
           SELECT json_object_agg(g.grantee, g.privileges)::text FROM (
             SELECT {grantee} AS grantee,
                    {grants} AS privileges
             FROM aclexplode(a.attacl) x WHERE x.grantee <> c.relowner GROUP BY x.grantee) g), '{{}}') END",
        grantee = role_name("x.grantee"),
        grants = GRANTS,
    )
}
