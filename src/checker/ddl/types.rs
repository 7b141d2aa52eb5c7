//! Types: enums (labels added in place, or the enum made anew when it loses or reorders
//! labels and only table columns use it), ranges, domains and composite types.

use super::super::model::{TypeDef, split_qualified};
use super::Generator;
use crate::sql::quote_literal;

impl Generator<'_> {
    pub(super) fn types(&mut self) {
        let (from, to) = (self.from, self.to);
        // Enums first (ranges, domains and composites may use them), then ranges, domains,
        // composites.
        for kind in ["e", "r", "d", "c"] {
            for (name, new) in to.types.iter().filter(|(_, t)| t.kind == kind) {
                match from.types.get(name) {
                    None => self.script.push(create_type(new)),
                    Some(old) if old.kind != new.kind => self.script.refuse(
                        format!(
                            "{name} changes from one kind of type to another; recreate it by hand"
                        ),
                        &create_type(new),
                    ),
                    Some(old) => self.alter_type(old, new),
                }
            }
        }
    }

    fn alter_type(&mut self, old: &TypeDef, new: &TypeDef) {
        let name = &new.name;
        if self.recreated_enums.contains(name) {
            self.script.push(create_type(new));
            return;
        }
        match new.kind.as_str() {
            "r" => self.alter_range(old, new),
            "e" => self.alter_enum(old, new),
            "d" => self.alter_domain(old, new),
            _ => self.alter_composite(old, new),
        }
    }

    /// A range type's definition cannot change in place: refused.
    fn alter_range(&mut self, old: &TypeDef, new: &TypeDef) {
        let name = &new.name;
        if old.range != new.range {
            self.script.refuse(
                format!(
                    "range type {name} changes ({} → {}): recreate it by hand",
                    old.range.as_deref().unwrap_or("?"),
                    new.range.as_deref().unwrap_or("?")
                ),
                "",
            );
        }
    }

    /// New enum labels, added in place where they belong; lost or reordered labels
    /// refused (an enum only table columns use was made anew instead).
    fn alter_enum(&mut self, old: &TypeDef, new: &TypeDef) {
        let name = &new.name;
        if loses_labels(old, new) {
            self.script.refuse(
                format!(
                    "enum {name} loses or reorders labels ({} → {}) and a function or \
                             type uses it: recreate the type by hand",
                    old.labels.join(", "),
                    new.labels.join(", ")
                ),
                "",
            );
            return;
        }
        let mut present: Vec<&String> = old.labels.iter().collect();
        for (i, label) in new.labels.iter().enumerate() {
            if present.contains(&label) {
                continue;
            }
            let after = new.labels[..i].iter().rev().find(|l| present.contains(l));
            let position = match after {
                Some(a) => format!(" AFTER {}", quote_literal(a)),
                None => match new.labels[i + 1..].iter().find(|l| present.contains(l)) {
                    Some(b) => format!(" BEFORE {}", quote_literal(b)),
                    None => String::new(),
                },
            };
            self.script.push(format!(
                "ALTER TYPE {name} ADD VALUE {}{position}",
                quote_literal(label)
            ));
            present.push(label);
        }
    }

    /// A domain's default, nullability and constraints; its base type cannot change.
    fn alter_domain(&mut self, old: &TypeDef, new: &TypeDef) {
        let name = &new.name;
        if old.base != new.base {
            self.script.refuse(
                format!(
                    "domain {name} changes its base type ({} → {}): recreate it by hand",
                    old.base.as_deref().unwrap_or("?"),
                    new.base.as_deref().unwrap_or("?")
                ),
                "",
            );
            return;
        }
        if old.default != new.default {
            self.script.push(match &new.default {
                Some(d) => format!("ALTER DOMAIN {name} SET DEFAULT {d}"),
                None => format!("ALTER DOMAIN {name} DROP DEFAULT"),
            });
        }
        if old.not_null != new.not_null {
            let verb = if new.not_null { "SET" } else { "DROP" };
            self.script
                .push(format!("ALTER DOMAIN {name} {verb} NOT NULL"));
        }
        for (constraint, definition) in &old.constraints {
            if !new
                .constraints
                .contains(&(constraint.clone(), definition.clone()))
            {
                self.script
                    .push(format!("ALTER DOMAIN {name} DROP CONSTRAINT {constraint}"));
            }
        }
        for (constraint, definition) in &new.constraints {
            if !old
                .constraints
                .contains(&(constraint.clone(), definition.clone()))
            {
                self.script.push(format!(
                    "ALTER DOMAIN {name} ADD CONSTRAINT {constraint} {definition}"
                ));
            }
        }
    }

    /// A composite type's attributes, dropped, altered and added.
    fn alter_composite(&mut self, old: &TypeDef, new: &TypeDef) {
        let name = &new.name;
        for (attribute, kind) in &old.attributes {
            match new.attributes.iter().find(|(a, _)| a == attribute) {
                None => self
                    .script
                    .push(format!("ALTER TYPE {name} DROP ATTRIBUTE {attribute}")),
                Some((_, k)) if k != kind => self.script.push(format!(
                    "ALTER TYPE {name} ALTER ATTRIBUTE {attribute} TYPE {k}"
                )),
                Some(_) => {}
            }
        }
        for (attribute, kind) in &new.attributes {
            if !old.attributes.iter().any(|(a, _)| a == attribute) {
                self.script.push(format!(
                    "ALTER TYPE {name} ADD ATTRIBUTE {attribute} {kind}"
                ));
            }
        }
    }

    /// What besides table columns uses enum `name` (then it cannot simply be made anew).
    pub(super) fn enum_users(&self, name: &str) -> Option<String> {
        for model in [self.from, self.to] {
            if let Some(f) = model.functions.values().find(|f| {
                f.arguments.contains(name) || f.result.as_deref().is_some_and(|r| r.contains(name))
            }) {
                return Some(format!("function {}", f.signature));
            }
            if let Some(t) = model.types.values().find(|t| {
                t.base.as_deref() == Some(name)
                    || t.attributes.iter().any(|(_, k)| Self::uses_enum(k, name))
            }) {
                return Some(format!("type {}", t.name));
            }
        }
        None
    }
}

/// Whether enum `new` drops or reorders labels of `old` (adding is done in place).
pub(super) fn loses_labels(old: &TypeDef, new: &TypeDef) -> bool {
    let kept: Vec<&String> = old
        .labels
        .iter()
        .filter(|l| new.labels.contains(l))
        .collect();
    let in_order: Vec<&String> = new
        .labels
        .iter()
        .filter(|l| old.labels.contains(l))
        .collect();
    kept.len() != old.labels.len() || kept != in_order
}

/// The name an enum made anew has while its columns move over: `"s"."e__pum_old"`.
pub(super) fn aside(name: &str) -> String {
    let (schema, object) = split_qualified(name);
    let renamed = match object.strip_suffix('"') {
        Some(quoted) => format!("{quoted}__pum_old\""),
        None => format!("{object}__pum_old"),
    };
    if schema.is_empty() {
        renamed
    } else {
        format!("{schema}.{renamed}")
    }
}

/// The object part of a qualified name.
pub(super) fn unqualified(name: &str) -> &str {
    split_qualified(name).1
}

pub(super) fn create_type(kind: &TypeDef) -> String {
    match kind.kind.as_str() {
        "r" => format!(
            "CREATE TYPE {} AS RANGE ({})",
            kind.name,
            kind.range.as_deref().unwrap_or_default()
        ),
        "e" => {
            let labels: Vec<String> = kind.labels.iter().map(|l| quote_literal(l)).collect();
            format!("CREATE TYPE {} AS ENUM ({})", kind.name, labels.join(", "))
        }
        "d" => {
            let mut text = format!(
                "CREATE DOMAIN {} AS {}",
                kind.name,
                kind.base.as_deref().unwrap_or("text")
            );
            if let Some(default) = &kind.default {
                text.push_str(&format!(" DEFAULT {default}"));
            }
            if kind.not_null {
                text.push_str(" NOT NULL");
            }
            for (name, definition) in &kind.constraints {
                text.push_str(&format!(" CONSTRAINT {name} {definition}"));
            }
            text
        }
        _ => {
            let attributes: Vec<String> = kind
                .attributes
                .iter()
                .map(|(a, t)| format!("{a} {t}"))
                .collect();
            format!("CREATE TYPE {} AS ({})", kind.name, attributes.join(", "))
        }
    }
}
