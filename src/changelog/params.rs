//! Parameters: what `.pum.yaml` declares (`parameters:`), the values of one run, and how
//! a value is written into SQL.
//!
//! SQL files use a parameter as `{name}`: it is replaced by its value written as an SQL
//! literal of the parameter's type (`'text'`, `2056`, `true`), never pasted raw, so a value
//! cannot change the statement around it; where a placeholder may stand (not inside
//! quotes, not with a value that would end a dollar-quoted body) is the renderer's rule
//! (`changelog/render.rs`). `{{` and `}}` stand for literal braces, in strings too (as in
//! Python pum); braces in comments are left alone.

use std::collections::BTreeMap;

use serde::Deserialize;

pub use super::decimal::Decimal;
use crate::error::{Error, Result};
use crate::sql::quote_literal;

/// A YAML scalar as written: the type of a parameter's default is checked against the
/// parameter's declared type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Text(String),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Integer(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Text(t) => write!(f, "{t}"),
        }
    }
}

/// A parameter's type, which decides how its value is written into SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterType {
    /// `true` / `false`.
    Boolean,
    /// A whole number.
    Integer,
    /// Text, written as a quoted literal (the default).
    #[default]
    Text,
    /// A decimal number.
    Decimal,
    /// A file path, written as a quoted literal.
    Path,
}

/// A parameter the SQL files use as `{name}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterDef {
    /// The name used in `{name}`.
    pub name: String,
    /// The type.
    #[serde(default, rename = "type")]
    pub kind: ParameterType,
    /// The value used when none is given.
    #[serde(default)]
    pub default: Option<Scalar>,
    /// What the parameter is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The allowed values, if restricted.
    #[serde(default)]
    pub values: Option<Vec<Scalar>>,
    /// Only used by the application hooks: may change between upgrades, and may not be
    /// used in changelogs.
    #[serde(default)]
    pub app_only: bool,
}

/// A parameter value, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A decimal number, exact.
    Decimal(Decimal),
    /// Text (also paths).
    Text(String),
    /// No value: no default and none given.
    Null,
}

impl ParamValue {
    /// A value of type `kind` from a YAML scalar.
    ///
    /// # Errors
    /// A message saying why the scalar is not of that type.
    pub fn from_scalar(kind: ParameterType, scalar: &Scalar) -> std::result::Result<Self, String> {
        match (kind, scalar) {
            (ParameterType::Boolean, Scalar::Bool(b)) => Ok(ParamValue::Bool(*b)),
            (ParameterType::Integer, Scalar::Integer(i)) => Ok(ParamValue::Integer(*i)),
            // YAML reads an unquoted 0.1 as a float; its shortest text is what was written
            // for up to 15 significant digits (quote longer ones: '3.14159265358979323846').
            (ParameterType::Decimal, Scalar::Integer(i)) => ParamValue::parse(kind, &i.to_string()),
            (ParameterType::Decimal, Scalar::Float(x)) => ParamValue::parse(kind, &x.to_string()),
            (ParameterType::Text | ParameterType::Path, scalar) => {
                Ok(ParamValue::Text(scalar.to_string()))
            }
            (kind, Scalar::Text(text)) => ParamValue::parse(kind, text),
            (kind, scalar) => ParamValue::parse(kind, &scalar.to_string()),
        }
    }

    /// A value of type `kind` from text (a command-line argument).
    ///
    /// # Errors
    /// A message saying why the text is not of that type.
    pub fn parse(kind: ParameterType, text: &str) -> std::result::Result<Self, String> {
        match kind {
            ParameterType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(ParamValue::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(ParamValue::Bool(false)),
                _ => Err(format!("\"{text}\" is not true or false")),
            },
            ParameterType::Integer => text.trim().parse().map(ParamValue::Integer).map_err(|e| {
                use std::num::IntErrorKind::{NegOverflow, PosOverflow};
                match e.kind() {
                    PosOverflow | NegOverflow => format!(
                        "{} is out of range for an integer parameter ({} to {})",
                        text.trim(),
                        i64::MIN,
                        i64::MAX
                    ),
                    _ => format!("\"{text}\" is not an integer"),
                }
            }),
            ParameterType::Decimal => Decimal::parse(text).map(ParamValue::Decimal),
            ParameterType::Text | ParameterType::Path => Ok(ParamValue::Text(text.to_string())),
        }
    }

    /// The value as an SQL literal: `true`, `2056`, `1.5`, `'it''s'`, `NULL`. A negative
    /// number gets a space before its sign, so `a-{x}` never becomes the comment `a--1`.
    pub fn sql_literal(&self) -> String {
        match self {
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::Integer(i) if *i < 0 => format!(" {i}"),
            ParamValue::Integer(i) => i.to_string(),
            ParamValue::Decimal(d) => d.sql_literal(),
            ParamValue::Text(text) => quote_literal(text),
            ParamValue::Null => "NULL".to_string(),
        }
    }

    /// The value as JSON text, as recorded in the migrations table (a decimal digit for
    /// digit).
    pub fn json_text(&self) -> String {
        match self {
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::Integer(i) => i.to_string(),
            ParamValue::Decimal(d) => d.json_text().to_string(),
            ParamValue::Text(t) => serde_json::Value::String(t.clone()).to_string(),
            ParamValue::Null => "null".to_string(),
        }
    }

    /// Whether this is the value recorded as `stored` (PostgreSQL's text of a JSON value,
    /// `None` for JSON null), compared by type: decimals by value (`2.50` is `2.5`).
    pub fn matches_stored(&self, stored: Option<&str>) -> bool {
        match (self, stored) {
            (ParamValue::Null, None) => true,
            (_, None) | (ParamValue::Null, Some(_)) => false,
            (ParamValue::Bool(b), Some(s)) => s == b.to_string(),
            (ParamValue::Integer(i), Some(s)) => s.trim().parse::<i64>() == Ok(*i),
            (ParamValue::Decimal(d), Some(s)) => Decimal::parse(s).as_ref() == Ok(d),
            (ParamValue::Text(t), Some(s)) => s == t,
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Integer(i) => write!(f, "{i}"),
            ParamValue::Decimal(d) => write!(f, "{d}"),
            ParamValue::Text(t) => write!(f, "{t}"),
            ParamValue::Null => f.write_str("NULL"),
        }
    }
}

/// The parameter values of one run: every configured parameter, from its default or from
/// what was given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameters {
    values: BTreeMap<String, (ParamValue, bool)>,
}

impl Parameters {
    /// The values of the parameters `defs` defines (a configuration's `parameters`):
    /// defaults, overridden by `given` (name, text).
    ///
    /// # Errors
    /// [`Error::Parameter`] for an unknown name, a value of the wrong type, or one outside
    /// the allowed values.
    pub fn resolve(defs: &[ParameterDef], given: &[(String, String)]) -> Result<Parameters> {
        let mut values = BTreeMap::new();
        for def in defs {
            let value = match &def.default {
                Some(default) => {
                    ParamValue::from_scalar(def.kind, default).map_err(|m| Error::Parameter {
                        name: def.name.clone(),
                        message: m,
                    })?
                }
                None => ParamValue::Null,
            };
            values.insert(def.name.clone(), (value, def.app_only));
        }
        for (name, text) in given {
            let def = defs
                .iter()
                .find(|d| &d.name == name)
                .ok_or_else(|| Error::Parameter {
                    name: name.clone(),
                    message: format!(
                        "unknown parameter (defined: {})",
                        if defs.is_empty() {
                            "none".to_string()
                        } else {
                            defs.iter()
                                .map(|p| p.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                })?;
            let value = ParamValue::parse(def.kind, text).map_err(|m| Error::Parameter {
                name: name.clone(),
                message: m,
            })?;
            if let Some(allowed) = &def.values {
                let allowed_values: Vec<ParamValue> = allowed
                    .iter()
                    .filter_map(|s| ParamValue::from_scalar(def.kind, s).ok())
                    .collect();
                if !allowed_values.contains(&value) {
                    return Err(Error::Parameter {
                        name: name.clone(),
                        message: format!(
                            "{value} is not one of the allowed values ({})",
                            allowed
                                .iter()
                                .map(Scalar::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
            values.insert(name.clone(), (value, def.app_only));
        }
        Ok(Parameters { values })
    }

    /// Builds parameters directly (for tests and library users without a config).
    pub fn from_values(values: impl IntoIterator<Item = (String, ParamValue)>) -> Parameters {
        Parameters {
            values: values.into_iter().map(|(k, v)| (k, (v, false))).collect(),
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name).map(|(v, _)| v)
    }

    /// Every value as JSON text (`{"SRID": 2056}`), as recorded with each version;
    /// decimals digit for digit.
    pub fn json_text(&self) -> String {
        let members: Vec<String> = self
            .values
            .iter()
            .map(|(k, (v, _))| {
                format!(
                    "{}: {}",
                    serde_json::Value::String(k.clone()),
                    v.json_text()
                )
            })
            .collect();
        format!("{{{}}}", members.join(", "))
    }

    /// The values that must not change between upgrades (all but `app_only` ones).
    pub fn fixed(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.values
            .iter()
            .filter(|(_, (_, app_only))| !app_only)
            .map(|(k, (v, _))| (k.as_str(), v))
    }

    /// Renders `{name}` placeholders in `sql`: as literals in code and in dollar-quoted
    /// bodies (unless the value would end the body), never inside quotes (see the module
    /// docs).
    ///
    /// `changelog` refuses `app_only` parameters, which changelogs may not use.
    ///
    /// # Errors
    /// `(byte offset, message)` of the first bad placeholder.
    pub fn render(
        &self,
        sql: &str,
        changelog: bool,
    ) -> std::result::Result<String, (usize, String)> {
        super::render::render(sql, &mut |name| self.placeholder(name, changelog))
    }

    fn placeholder(&self, name: &str, changelog: bool) -> std::result::Result<String, String> {
        match self.values.get(name) {
            None => Err(format!("unknown parameter {{{name}}}")),
            Some((_, true)) if changelog => Err(format!(
                "parameter {{{name}}} is app_only: only application hooks may use it"
            )),
            Some((ParamValue::Null, _)) => Err(format!(
                "parameter {{{name}}} has no value: give one (-p {name} VALUE) or a default"
            )),
            Some((value, _)) => Ok(value.sql_literal()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn params() -> Parameters {
        let mut p = Parameters::from_values([
            ("SRID".to_string(), ParamValue::Integer(2056)),
            (
                "label".to_string(),
                ParamValue::Text("it's; DROP TABLE x; --".into()),
            ),
            ("flag".to_string(), ParamValue::Bool(true)),
            ("none".to_string(), ParamValue::Null),
        ]);
        p.values
            .insert("app".into(), (ParamValue::Text("a".into()), true));
        p
    }

    #[test]
    fn placeholders_become_literals() {
        let got = params()
            .render(
                "SELECT {SRID}, {label}, {flag}, '{{\"json\": 1}}' -- {not_a_param}\n/* {x} */",
                true,
            )
            .unwrap();
        assert_eq!(
            got,
            "SELECT 2056, 'it''s; DROP TABLE x; --', true, '{\"json\": 1}' -- {not_a_param}\n/* {x} */"
        );
    }

    #[test]
    fn placeholder_errors() {
        let p = params();
        assert_eq!(
            p.render("SELECT {nope}", true).unwrap_err(),
            (7, "unknown parameter {nope}".to_string())
        );
        assert_eq!(
            p.render("SELECT '{\"a\": 1}'", true).unwrap_err().1,
            "\"{\"a\": 1}\" is not a parameter: write {{ and }} for literal braces"
        );
        assert_eq!(
            p.render("SELECT 1 }", true).unwrap_err().1,
            "single \"}\": write }} for a literal brace"
        );
        assert_eq!(
            p.render("SELECT {none}", true).unwrap_err().1,
            "parameter {none} has no value: give one (-p none VALUE) or a default"
        );
        assert_eq!(
            p.render("SELECT {app}", true).unwrap_err().1,
            "parameter {app} is app_only: only application hooks may use it"
        );
        assert_eq!(p.render("SELECT {app}", false).unwrap(), "SELECT 'a'");
        assert_eq!(
            p.render("SELECT {SRID", true).unwrap_err().1,
            "unclosed \"{\": write {{ for a literal brace"
        );
    }

    #[test]
    fn literals_by_type() {
        assert_eq!(quote_literal("a'b"), "'a''b'");
        assert_eq!(quote_literal(r"C:\x"), r"E'C:\\x'");
        let decimal = |t: &str| ParamValue::parse(ParameterType::Decimal, t).unwrap();
        assert_eq!(decimal("1.5").sql_literal(), "1.5");
        assert_eq!(decimal("2.0").sql_literal(), "2");
        assert_eq!(
            decimal("2600000.123456789012345678901").sql_literal(),
            "2600000.123456789012345678901",
            "no rounding"
        );
        assert_eq!(ParamValue::Integer(-3).sql_literal(), " -3");
        assert_eq!(
            ParamValue::parse(ParameterType::Boolean, "yes"),
            Ok(ParamValue::Bool(true))
        );
        assert_eq!(
            ParamValue::parse(ParameterType::Boolean, "maybe"),
            Err("\"maybe\" is not true or false".into())
        );
        assert_eq!(
            ParamValue::parse(ParameterType::Decimal, "inf"),
            Err("\"inf\" is not a decimal number".into())
        );
    }
}
