//! Privileges: the roles default privileges may give objects to.

use super::catalog::SCHEMAS;

/// The query reading the default grantees.
pub(super) fn default_grantees() -> String {
    format!(
        "SELECT DISTINCT jsonb_build_object('kind', d.defaclobjtype::text,
                   'name', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END)
                 FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
                 LATERAL (SELECT e.grantee FROM aclexplode(d.defaclacl) e WHERE e.grantee <> d.defaclrole
                          UNION SELECT 0) x
                 WHERE d.defaclnamespace = 0 OR {SCHEMAS}"
    )
}
