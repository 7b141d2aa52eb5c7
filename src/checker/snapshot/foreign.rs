//! Database-wide objects for data elsewhere: foreign data wrappers, servers, user
//! mappings, and publications.

use super::filters::{not_in_extension, proc_name};

/// Foreign data, database-wide: wrappers and servers by name, user mappings by role and
/// server.
pub(super) fn foreign_data() -> String {
    format!(
        "SELECT 'foreign data wrapper ' || w.fdwname, jsonb_build_object(
               'handler', {handler}, 'validator', {validator},
               'options', array_to_string(w.fdwoptions, ', '))
             FROM pg_foreign_data_wrapper w WHERE {fdw_ext}
             UNION ALL
             SELECT 'server ' || s.srvname, jsonb_build_object(
               'wrapper', w.fdwname, 'type', s.srvtype, 'version', s.srvversion,
               'options', array_to_string(s.srvoptions, ', '))
             FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
             WHERE {srv_ext}
             UNION ALL
             SELECT 'user mapping for ' || u.usename || ' server ' || u.srvname, jsonb_build_object(
               'options', array_to_string(u.umoptions, ', '))
             FROM pg_user_mappings u",
        handler = proc_name("w.fdwhandler"),
        validator = proc_name("w.fdwvalidator"),
        fdw_ext = not_in_extension("pg_foreign_data_wrapper", "w.oid"),
        srv_ext = not_in_extension("pg_foreign_server", "s.oid"),
    )
}

/// Publications.
pub(super) fn publications(version: i32) -> String {
    format!(
        "SELECT p.pubname::text, jsonb_build_object(
               'all_tables', p.puballtables,
               'publish', concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END,
                            CASE WHEN p.pubupdate THEN 'update' END, CASE WHEN p.pubdelete THEN 'delete' END,
                            CASE WHEN p.pubtruncate THEN 'truncate' END),
               'via_root', p.pubviaroot,
               'tables', (SELECT string_agg(pr.prrelid::regclass::text {table_details}, ', '
                                            ORDER BY pr.prrelid::regclass::text)
                          FROM pg_publication_rel pr WHERE pr.prpubid = p.oid)
               {schemas})
             FROM pg_publication p",
        table_details = if version >= 150000 {
            "|| COALESCE(' (' || (SELECT string_agg(quote_ident(pa.attname), ', ' ORDER BY pa.attnum)
                                      FROM pg_attribute pa
                                      WHERE pa.attrelid = pr.prrelid AND pa.attnum = ANY(pr.prattrs)) || ')', '')
                 || COALESCE(' WHERE ' || pg_get_expr(pr.prqual, pr.prrelid), '')"
        } else {
            ""
        },
        schemas = if version >= 150000 {
            ", 'schemas', (SELECT string_agg(quote_ident(pn.nspname), ', ' ORDER BY pn.nspname)
                               FROM pg_publication_namespace pnn JOIN pg_namespace pn ON pn.oid = pnn.pnnspid
                               WHERE pnn.pnpubid = p.oid)"
        } else {
            ""
        },
    )
}
