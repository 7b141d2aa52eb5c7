//! SQL fragments every catalog query of the model shares: the schema filter, objects
//! of extensions left out, privileges and comments as JSON.

/// The schema filter: never `pg_*` nor `information_schema`, never an excluded schema
/// (`$1`).
pub(super) const SCHEMAS: &str = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
                       AND n.nspname <> ALL($1::text[])";

/// Leaves out objects that belong to an extension (found by index among the extensions'
/// dependencies, as the snapshot's queries do).
pub(super) fn not_in_extension(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend d WHERE d.refclassid = 'pg_extension'::regclass \
         AND d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e')"
    )
}

/// `aclexplode` of an object's privileges as a JSON array of [grantee, privilege,
/// grantable], without the owner's own.
pub(super) fn acl(acl: &str, kind: &str, owner: &str) -> String {
    format!(
        "(SELECT coalesce(jsonb_agg(jsonb_build_array(
            CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END,
            x.privilege_type, x.is_grantable) ORDER BY 1), '[]'::jsonb)
          FROM aclexplode(coalesce({acl}, acldefault('{kind}'::\"char\", {owner}))) x
          WHERE x.grantee <> {owner})"
    )
}

/// An object's comment.
pub(super) fn comment(catalog: &str, oid: &str, sub: &str) -> String {
    format!(
        "(SELECT d.description FROM pg_description d WHERE d.classoid = '{catalog}'::regclass \
         AND d.objoid = {oid} AND d.objsubid = {sub})"
    )
}
