//! [`RoleManager`]: the configured roles created, granted, revoked, dropped, and users
//! made members of them.

use std::collections::BTreeSet;

use crate::config::RoleDef;
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::sql::quote_identifier;
use crate::wire::Sql;

use super::catalog::{existing_roles, existing_schemas, grantable_types, memberships};
use super::statements::{create_sql, grant_sql, kind_name, revoke_sql, type_privilege};
use super::{RoleSelection, Warnings, check_suffix, in_transaction, run, suffixed};

/// The roles of a configuration, with the operations Python pum's `RoleManager` has.
#[derive(Debug, Clone, Copy)]
pub struct RoleManager<'a> {
    pub(super) roles: &'a [RoleDef],
}

impl<'a> RoleManager<'a> {
    /// The manager of `roles` (in configuration order: a role comes after the role it
    /// inherits, as the configuration checks).
    pub fn new(roles: &'a [RoleDef]) -> RoleManager<'a> {
        RoleManager { roles }
    }

    /// Whether the configuration declares no role.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// The configured roles `selection` names, in configuration order.
    ///
    /// # Errors
    /// [`Error::UnknownRole`] for a name the configuration does not declare.
    pub(super) fn selected(&self, selection: &RoleSelection) -> Result<Vec<&'a RoleDef>> {
        let Some(names) = &selection.roles else {
            return Ok(self.roles.iter().collect());
        };
        let unknown: BTreeSet<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| !self.roles.iter().any(|r| r.name == *n))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::UnknownRole {
                names: unknown.into_iter().collect::<Vec<_>>().join(", "),
                known: self.known(),
            });
        }
        Ok(self
            .roles
            .iter()
            .filter(|r| names.contains(&r.name))
            .collect())
    }

    fn known(&self) -> String {
        if self.roles.is_empty() {
            "none".into()
        } else {
            self.roles
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    pub(super) fn parent(&self, role: &RoleDef) -> Option<&'a RoleDef> {
        let parent = role.inherit.as_deref()?;
        self.roles.iter().find(|r| r.name == parent)
    }

    /// Creates the roles (and, with `grant`, grants their permissions), in one transaction.
    ///
    /// # Errors
    /// Connection and server errors; [`Error::InvalidIdentifier`] for a name PostgreSQL
    /// cannot hold (a suffix making it longer than 63 bytes).
    pub fn create(
        &self,
        spec: &ConnectionSpec,
        suffix: Option<&str>,
        grant: bool,
    ) -> Result<Warnings> {
        in_transaction(spec, |sql| self.create_in(sql, suffix, grant))
    }

    /// As [`RoleManager::create`], in the caller's transaction.
    pub(crate) fn create_in(
        &self,
        sql: &mut dyn Sql,
        suffix: Option<&str>,
        grant: bool,
    ) -> Result<Warnings> {
        let suffix = check_suffix(suffix)?;
        let mut statements = String::new();
        let mut names = Vec::new();
        for role in self.roles {
            if let Some(suffix) = suffix {
                let specific = suffixed(&role.name, Some(suffix));
                let description = role
                    .description
                    .as_ref()
                    .map(|d| format!("{d} (specific to {suffix})"));
                let parent = self.parent(role).map(|p| suffixed(&p.name, Some(suffix)));
                statements.push_str(&create_sql(
                    &specific,
                    description.as_deref(),
                    parent.as_deref(),
                )?);
                names.push(specific);
            }
            let parent = self.parent(role).map(|p| p.name.clone());
            statements.push_str(&create_sql(
                &role.name,
                role.description.as_deref(),
                parent.as_deref(),
            )?);
            names.push(role.name.clone());
        }
        run(sql, &statements, "create the roles")?;
        if !grant {
            return Ok(Vec::new());
        }
        // With a suffix only the specific roles get the permissions.
        let selection = RoleSelection {
            roles: None,
            suffix: suffix.map(str::to_string),
        };
        self.grant_in(sql, &selection, false)
    }

    /// Grants the selected roles' permissions on their schemas, in one transaction;
    /// returns what was skipped.
    ///
    /// # Errors
    /// [`Error::UnknownRole`]; server errors.
    pub fn grant(&self, spec: &ConnectionSpec, selection: &RoleSelection) -> Result<Warnings> {
        in_transaction(spec, |sql| self.grant_in(sql, selection, true))
    }

    /// As [`RoleManager::grant`], in the caller's transaction. With `skip_missing`, roles
    /// that do not exist are left out with a warning.
    pub(crate) fn grant_in(
        &self,
        sql: &mut dyn Sql,
        selection: &RoleSelection,
        skip_missing: bool,
    ) -> Result<Warnings> {
        let suffix = check_suffix(selection.suffix.as_deref())?;
        let roles = self.selected(selection)?;
        let mut warnings = Vec::new();
        let schemas: Vec<&str> = roles
            .iter()
            .flat_map(|r| r.permissions.iter())
            .flat_map(|p| p.schemas.iter().map(String::as_str))
            .collect();
        let existing = existing_schemas(sql, &schemas)?;
        let types = grantable_types(sql, &existing)?;
        let present = if skip_missing {
            let names: Vec<String> = roles.iter().map(|r| suffixed(&r.name, suffix)).collect();
            existing_roles(sql, &names)?
        } else {
            BTreeSet::new()
        };
        let mut statements = String::new();
        for role in roles {
            let name = suffixed(&role.name, suffix);
            if skip_missing && !present.contains(&name) {
                warnings.push(format!("role {name} does not exist: not granted"));
                continue;
            }
            let role_q = quote_identifier("role", &name)?;
            for permission in &role.permissions {
                for schema in &permission.schemas {
                    if !existing.contains(schema.as_str()) {
                        warnings.push(format!(
                            "schema {schema} does not exist: {} permission not granted to {name}",
                            kind_name(permission.kind)
                        ));
                        continue;
                    }
                    let schema_q = quote_identifier("schema", schema)?;
                    statements.push_str(&grant_sql(permission.kind, &schema_q, &role_q));
                    for typ in types.iter().filter(|(s, _)| s == schema) {
                        statements.push_str(&format!(
                            "GRANT {} ON TYPE {schema_q}.{} TO {role_q};\n",
                            type_privilege(permission.kind),
                            quote_identifier("type", &typ.1)?
                        ));
                    }
                }
            }
        }
        run(sql, &statements, "grant the roles' permissions")?;
        Ok(warnings)
    }

    /// Takes back the selected roles' permissions (and what the roles they inherit were
    /// given) and their memberships, in one transaction.
    ///
    /// # Errors
    /// [`Error::UnknownRole`]; server errors.
    pub fn revoke(&self, spec: &ConnectionSpec, selection: &RoleSelection) -> Result<Warnings> {
        in_transaction(spec, |sql| self.revoke_in(sql, selection, true))
    }

    /// Revokes; `missing` says whether a role that does not exist is worth a warning.
    fn revoke_in(
        &self,
        sql: &mut dyn Sql,
        selection: &RoleSelection,
        missing: bool,
    ) -> Result<Warnings> {
        let suffix = check_suffix(selection.suffix.as_deref())?;
        let roles = self.selected(selection)?;
        let names: Vec<String> = roles.iter().map(|r| suffixed(&r.name, suffix)).collect();
        let present = existing_roles(sql, &names)?;
        let mut warnings = Vec::new();
        let mut statements = String::new();
        let mut schemas = Vec::new();
        for role in &roles {
            let mut ancestor = Some(*role);
            while let Some(r) = ancestor {
                schemas.extend(
                    r.permissions
                        .iter()
                        .flat_map(|p| p.schemas.iter().map(String::as_str)),
                );
                ancestor = self.parent(r);
            }
        }
        let existing = existing_schemas(sql, &schemas)?;
        for (role, name) in roles.iter().zip(&names) {
            if !present.contains(name) {
                if missing {
                    warnings.push(format!("role {name} does not exist: nothing to revoke"));
                }
                continue;
            }
            let role_q = quote_identifier("role", name)?;
            let mut ancestor = Some(*role);
            while let Some(r) = ancestor {
                for permission in &r.permissions {
                    for schema in &permission.schemas {
                        if !existing.contains(schema.as_str()) {
                            warnings.push(format!(
                                "schema {schema} does not exist: nothing to revoke from {name}"
                            ));
                            continue;
                        }
                        let schema_q = quote_identifier("schema", schema)?;
                        statements.push_str(&revoke_sql(permission.kind, &schema_q, &role_q));
                    }
                }
                ancestor = self.parent(r);
            }
            for parent in memberships(sql, name)? {
                statements.push_str(&format!(
                    "REVOKE {} FROM {role_q};\n",
                    quote_identifier("role", &parent)?
                ));
            }
        }
        run(sql, &statements, "revoke the roles' permissions")?;
        Ok(warnings)
    }

    /// Revokes, then drops the selected roles (generic, or with a suffix the specific
    /// ones only), in one transaction. With `force`, what a role owns in this database is
    /// reassigned to the current user and its remaining privileges dropped first.
    ///
    /// # Errors
    /// [`Error::UnknownRole`]; server errors (a role that other databases still grant
    /// something to cannot be dropped).
    pub fn drop(
        &self,
        spec: &ConnectionSpec,
        selection: &RoleSelection,
        force: bool,
    ) -> Result<Warnings> {
        in_transaction(spec, |sql| {
            let mut warnings = self.revoke_in(sql, selection, false)?;
            let suffix = check_suffix(selection.suffix.as_deref())?;
            let names: Vec<String> = self
                .selected(selection)?
                .iter()
                .map(|r| suffixed(&r.name, suffix))
                .collect();
            let present = existing_roles(sql, &names)?;
            let mut statements = String::new();
            for name in &names {
                if !present.contains(name) {
                    warnings.push(format!("role {name} does not exist: not dropped"));
                    continue;
                }
                let role_q = quote_identifier("role", name)?;
                if force {
                    statements.push_str(&format!(
                        "REASSIGN OWNED BY {role_q} TO CURRENT_USER;\nDROP OWNED BY {role_q};\n"
                    ));
                }
                statements.push_str(&format!("DROP ROLE IF EXISTS {role_q};\n"));
            }
            run(sql, &statements, "drop the roles")?;
            Ok(warnings)
        })
    }

    /// Makes `to` a member of the selected roles, in one transaction.
    ///
    /// # Errors
    /// [`Error::UnknownRole`]; server errors (`to` does not exist).
    pub fn grant_to(
        &self,
        spec: &ConnectionSpec,
        to: &str,
        selection: &RoleSelection,
    ) -> Result<()> {
        self.membership(spec, to, selection, "GRANT", "TO")
    }

    /// Takes `from`'s membership in the selected roles away, in one transaction.
    ///
    /// # Errors
    /// As [`RoleManager::grant_to`].
    pub fn revoke_from(
        &self,
        spec: &ConnectionSpec,
        from: &str,
        selection: &RoleSelection,
    ) -> Result<()> {
        self.membership(spec, from, selection, "REVOKE", "FROM")
    }

    fn membership(
        &self,
        spec: &ConnectionSpec,
        member: &str,
        selection: &RoleSelection,
        verb: &str,
        preposition: &str,
    ) -> Result<()> {
        let suffix = check_suffix(selection.suffix.as_deref())?;
        let member_q = quote_identifier("role", member)?;
        let mut statements = String::new();
        for role in self.selected(selection)? {
            statements.push_str(&format!(
                "{verb} {} {preposition} {member_q};\n",
                quote_identifier("role", &suffixed(&role.name, suffix))?
            ));
        }
        in_transaction(spec, |sql| {
            run(
                sql,
                &statements,
                &format!("{} {member}", verb.to_lowercase()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::check_suffix;

    #[test]
    fn suffixes_and_selections() {
        assert_eq!(suffixed("viewer", Some("lausanne")), "viewer_lausanne");
        assert!(check_suffix(Some("")).is_err());
        let roles = vec![RoleDef {
            name: "viewer".into(),
            permissions: Vec::new(),
            inherit: None,
            description: None,
        }];
        let manager = RoleManager::new(&roles);
        let err = manager
            .selected(&RoleSelection {
                roles: Some(vec!["viewr".into(), "viewer".into()]),
                suffix: None,
            })
            .unwrap_err()
            .to_string();
        assert_eq!(err, "unknown role(s): viewr (configured roles: viewer)");
    }
}
