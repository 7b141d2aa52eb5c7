//! Privileges: the GRANTs and REVOKEs that give each object of the target model exactly
//! its privileges, starting from `REVOKE ALL` where default privileges may interfere.

use std::collections::{BTreeMap, BTreeSet};

use super::super::model::Grant;
use super::Generator;
use super::routines::routine;

impl Generator<'_> {
    /// The GRANTs and REVOKEs turning `old` into `new` on `what`: one statement per
    /// grantee and kind of change, privileges listed together.
    fn grants(&mut self, what: &str, old: &BTreeSet<Grant>, new: &BTreeSet<Grant>) {
        // (statement prefix, grantee, suffix) → privileges.
        let mut changes: BTreeMap<(u8, String), Vec<String>> = BTreeMap::new();
        for (grantee, privilege, grantable) in old {
            match new.iter().find(|(g, p, _)| g == grantee && p == privilege) {
                None => changes
                    .entry((0, grantee.clone()))
                    .or_default()
                    .push(privilege.clone()),
                Some((_, _, now)) if *grantable && !now => changes
                    .entry((1, grantee.clone()))
                    .or_default()
                    .push(privilege.clone()),
                Some(_) => {}
            }
        }
        for (grantee, privilege, grantable) in new {
            let before = old.iter().find(|(g, p, _)| g == grantee && p == privilege);
            if before.is_none_or(|(_, _, was)| *grantable && !was) {
                let kind = if *grantable { 3 } else { 2 };
                changes
                    .entry((kind, grantee.clone()))
                    .or_default()
                    .push(privilege.clone());
            }
        }
        for ((kind, grantee), privileges) in changes {
            let privileges = privileges.join(", ");
            self.script.push(match kind {
                0 => format!("REVOKE {privileges} ON {what} FROM {grantee}"),
                1 => format!("REVOKE GRANT OPTION FOR {privileges} ON {what} FROM {grantee}"),
                2 => format!("GRANT {privileges} ON {what} TO {grantee}"),
                _ => format!("GRANT {privileges} ON {what} TO {grantee} WITH GRANT OPTION"),
            });
        }
    }

    /// The privileges an object made by the script starts with: the built-in ones
    /// (`builtin`), unless default privileges of the database may give or take some
    /// for its `kind`; then they are all revoked first, so that the object ends with
    /// exactly the privileges wanted.
    fn made<'g>(
        &mut self,
        kind: &str,
        what: &str,
        builtin: &'g BTreeSet<Grant>,
        none: &'g BTreeSet<Grant>,
    ) -> &'g BTreeSet<Grant> {
        match self.from.default_grantees.get(kind) {
            Some(grantees) if !grantees.is_empty() => {
                let list: Vec<&str> = grantees.iter().map(String::as_str).collect();
                self.script
                    .push(format!("REVOKE ALL ON {what} FROM {}", list.join(", ")));
                none
            }
            _ => builtin,
        }
    }

    pub(super) fn privileges(&mut self) {
        let (from, to) = (self.from, self.to);
        let none = BTreeSet::new();
        let public = |privilege: &str| -> BTreeSet<Grant> {
            [("PUBLIC".to_string(), privilege.to_string(), false)]
                .into_iter()
                .collect()
        };
        for (name, schema) in &to.schemas {
            let what = format!("SCHEMA {name}");
            let old = match from.schemas.get(name) {
                Some(s) => &s.acl,
                None => self.made("n", &what, &none, &none),
            };
            self.grants(&what, old, &schema.acl);
        }
        for (name, table) in &to.tables {
            let what = format!("TABLE {name}");
            let old = match from.tables.get(name) {
                Some(t) => &t.acl,
                None => self.made("r", &what, &none, &none),
            };
            self.grants(&what, old, &table.acl);
        }
        for (name, view) in &to.views {
            let what = format!("TABLE {name}");
            let old = match from
                .views
                .get(name)
                .filter(|_| !self.rebuilt_views.contains(name))
            {
                Some(v) => &v.acl,
                None => self.made("r", &what, &none, &none),
            };
            self.grants(&what, old, &view.acl);
        }
        for (name, sequence) in &to.sequences {
            let what = format!("SEQUENCE {name}");
            let old = match from.sequences.get(name) {
                Some(s) => &s.acl,
                None => self.made("S", &what, &none, &none),
            };
            self.grants(&what, old, &sequence.acl);
        }
        let execute = public("EXECUTE");
        for (signature, function) in &to.functions {
            let what = format!("{} {signature}", routine(function));
            let old = match from
                .functions
                .get(signature)
                .filter(|_| !self.recreated_functions.contains(signature))
            {
                Some(f) => &f.acl,
                None => self.made("f", &what, &execute, &none),
            };
            self.grants(&what, old, &function.acl);
        }
        let usage = public("USAGE");
        for (name, kind) in &to.types {
            let what = format!(
                "{} {name}",
                if kind.kind == "d" { "DOMAIN" } else { "TYPE" }
            );
            let old = match from
                .types
                .get(name)
                .filter(|_| !self.recreated_enums.contains(name))
            {
                Some(t) => &t.acl,
                None => self.made("T", &what, &usage, &none),
            };
            self.grants(&what, old, &kind.acl);
        }
    }
}
