//! `--format json` of `info`, `current`, `validate`, `check` and `lint`, as scripts read
//! it: every output parses, and its fields are exactly those the README's "Machine-readable
//! output" lists (read from the README, so the documentation cannot drift from the
//! output), also when nothing is installed.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::support::ScratchDb;
use crate::support::output::{error, stderr};
use crate::support::project::{Project, shop};

/// What a JSON value must look like: a README shape such as `{a, b?, c: [{d}]}`.
#[derive(Debug)]
enum Shape {
    /// Any value (a field without a shape of its own).
    Any,
    /// An object with exactly these fields (optional ones may be absent).
    Object(Vec<(String, bool, Shape)>),
    /// An array whose every element has this shape.
    Array(Box<Shape>),
}

/// Parses a shape; panics on a malformed one (the README is wrong).
fn parse(text: &str) -> Shape {
    let mut chars = text.chars().filter(|c| !c.is_whitespace()).peekable();
    let shape = parse_shape(&mut chars);
    assert!(chars.next().is_none(), "text after the shape: {text}");
    shape
}

fn parse_shape(chars: &mut std::iter::Peekable<impl Iterator<Item = char>>) -> Shape {
    match chars.next() {
        Some('[') => {
            let element = parse_shape(chars);
            assert_eq!(chars.next(), Some(']'), "an array shape ends with ]");
            Shape::Array(Box::new(element))
        }
        Some('{') => {
            let mut fields = Vec::new();
            loop {
                let name: String =
                    std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric() || *c == '_'))
                        .collect();
                assert!(!name.is_empty(), "a field name expected");
                let optional = chars.next_if_eq(&'?').is_some();
                let shape = match chars.next_if_eq(&':') {
                    Some(_) => parse_shape(chars),
                    None => Shape::Any,
                };
                fields.push((name, optional, shape));
                match chars.next() {
                    Some(',') => continue,
                    Some('}') => break,
                    other => panic!("',' or '}}' expected, not {other:?}"),
                }
            }
            Shape::Object(fields)
        }
        other => panic!("a shape starts with {{ or [, not {other:?}"),
    }
}

/// Whether `value` has `shape`; the first mismatch, located, when not.
fn conforms(value: &Value, shape: &Shape, at: &str) -> Result<(), String> {
    match (shape, value) {
        (Shape::Any, _) => Ok(()),
        (Shape::Array(element), Value::Array(items)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| conforms(item, element, &format!("{at}[{i}]"))),
        (Shape::Object(fields), Value::Object(map)) => {
            if let Some(extra) = map.keys().find(|k| !fields.iter().any(|f| &f.0 == *k)) {
                return Err(format!("{at}.{extra}: not documented"));
            }
            for (name, optional, shape) in fields {
                match map.get(name) {
                    Some(inner) => conforms(inner, shape, &format!("{at}.{name}"))?,
                    None if *optional => {}
                    None => return Err(format!("{at}.{name}: missing")),
                }
            }
            Ok(())
        }
        _ => Err(format!("{at}: {value} is not {shape:?}")),
    }
}

/// The README's shape for `command` (`info`, `current`…).
fn readme_shape(command: &str) -> Shape {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(readme).unwrap();
    let block = text
        .split_once("<!-- json shapes -->\n```text\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(block, _)| block)
        .expect("the README's json shapes");
    let prefix = format!("pum {command} --format json ");
    let line = block
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no shape for {command} in the README"));
    parse(line)
}

/// Standard output parsed, checked against the README's shape for `command`.
fn documented(command: &str, out: &Output) -> Value {
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{command}: not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    });
    if let Err(mismatch) = conforms(&value, &readme_shape(command), command) {
        panic!("{mismatch}\n{value:#}");
    }
    value
}

#[test]
fn the_shape_check_catches_an_undocumented_or_missing_field() {
    let shape = parse("{a, b?, c: [{d}]}");
    assert!(conforms(&json!({"a": 1, "c": [{"d": null}]}), &shape, "x").is_ok());
    assert_eq!(
        conforms(&json!({"a": 1, "c": [], "e": 2}), &shape, "x"),
        Err("x.e: not documented".into())
    );
    assert_eq!(
        conforms(&json!({"a": 1, "c": [{}]}), &shape, "x"),
        Err("x.c[0].d: missing".into())
    );
}

#[test]
fn info_current_and_validate_print_their_documented_fields() {
    let project = shop();
    let db = ScratchDb::new("json_mig", "");
    let url = db.spec().url();
    let pum = |args: &[&str]| {
        let mut all = vec!["-p", url.as_str(), "-d", project.path().to_str().unwrap()];
        all.extend_from_slice(args);
        crate::pum_in(project.path(), &all)
    };

    // Nothing installed: info answers (exit 0); current and validate answer and fail.
    let out = pum(&["info", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = documented("info", &out);
    assert_eq!(info["installed"], false);
    assert_eq!(info["current_version"], Value::Null);
    assert_eq!(info["versions"][0]["status"], "pending");
    for command in ["current", "validate"] {
        let out = pum(&[command, "--format", "json"]);
        let message = error(&out);
        assert!(message.contains("not installed"), "{message}");
        let answer = documented(command, &out);
        assert_eq!(answer["installed"], false, "{command}");
        assert_eq!(answer["table"], "shop.pum_migrations", "{command}");
    }
    assert_eq!(
        documented("current", &pum(&["current", "-f", "json"]))["version"],
        Value::Null
    );

    let out = pum(&["-q", "install", "--max-version", "1.9.0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = pum(&["current", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        documented("current", &out),
        json!({"table": "shop.pum_migrations", "installed": true, "version": "1.9.0"})
    );
    let info = documented("info", &pum(&["info", "--format", "json"]));
    assert_eq!(info["current_version"], "1.9.0");
    assert_eq!(info["module"], "shop");
    assert_eq!(info["versions"][0]["files"][0]["status"], "unchanged");
    assert_eq!(info["versions"][3]["status"], "pending");
    let out = pum(&["validate", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(documented("validate", &out)["valid"], true);

    project.write("changelogs/1.1.0/01_name.sql", "-- rewritten\n");
    let out = pum(&["validate", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let answer = documented("validate", &out);
    assert_eq!(answer["valid"], false);
    assert_eq!(
        answer["files"],
        json!([{"file": "changelogs/1.1.0/01_name.sql", "status": "changed"}])
    );

    // An error is not an answer: nothing on standard output.
    let gone = format!("{}_gone", db.name);
    let out = crate::pum_in(
        project.path(),
        &[
            "-p",
            &db.spec().with_dbname(&gone).url(),
            "current",
            "-f",
            "json",
        ],
    );
    assert!(error(&out).contains(&gone));
    assert!(out.stdout.is_empty());
}

#[test]
fn check_json_has_the_documented_fields_for_each_kind_of_difference() {
    let left = ScratchDb::new(
        "json_chk_l",
        "CREATE TABLE public.t (a int DEFAULT 1); CREATE TABLE public.gone (x int)",
    );
    let right = ScratchDb::new(
        "json_chk_r",
        "CREATE TABLE public.t (a int DEFAULT 2); CREATE TABLE public.new (x int)",
    );
    let (l, r) = (left.spec().url(), right.spec().url());
    let out = crate::pum_in(Path::new("."), &["-p", &l, "check", &r, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = documented("check", &out);
    assert_eq!(report["passed"], false);
    let types: Vec<&Value> = report["check_results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|kind| kind["differences"].as_array().unwrap())
        .map(|difference| &difference["type"])
        .collect();
    for kind in ["removed", "added", "changed"] {
        assert!(types.contains(&&json!(kind)), "no {kind} in {types:?}");
    }
}

#[test]
fn lint_json_has_the_documented_fields() {
    let project = Project::new(
        "pum: {module: jsonlint, migration_table_schema: jsonlint_sys}\n",
        &[
            (
                "changelogs/1.0.0/01.sql",
                "CREATE SCHEMA shop;\nCREATE TABLE shop.item (id integer PRIMARY KEY, \
                 price integer);\n",
            ),
            (
                "changelogs/1.1.0/01.sql",
                "ALTER TABLE shop.item ALTER COLUMN price TYPE bigint;\n",
            ),
        ],
    );
    let out = crate::pum_in(project.path(), &["lint", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let findings = documented("lint", &out);
    assert_eq!(findings[0]["rule"], "rewrite", "{findings:#}");
    assert_eq!(findings[0]["file"], "changelogs/1.1.0/01.sql");
}
