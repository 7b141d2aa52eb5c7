//! The README's CI recipes (section "CI recipes"), run so that they cannot rot. Each
//! ```yaml block there is read as GitHub Actions (it has `jobs:`) or GitLab CI, and
//! every job's shell lines (GitHub's `run:` blocks, GitLab's `before_script:` and
//! `script:` lines) pass `bash -n`, then run with `bash -e -o pipefail` in the README's
//! First steps project, with the job's environment (GitHub's `${{ matrix.X }}` is the
//! matrix's first value, GitLab's `parallel` is runner 1), under these rules:
//! - `pum` is this build's, and runs for real: a job that names `PUM_TEST_DATABASE_URL`
//!   (the service container) gets the tests' server instead, any other job pum's
//!   ephemeral server in a directory of its own (started by the recipe's `pum lint`,
//!   stopped at the end), or the tests' server when they were given one;
//! - `cargo` and `apt-get` are stand-ins that record their arguments: building and
//!   installing are too heavy for a test. Every `--option` given to cargo must be one
//!   that `cargo SUBCOMMAND --help` lists (`cargo nextest run --help` where nextest is
//!   installed), and `--partition` values must be nextest's `count:K/N` or `hash:K/N`.
//!
//! So a renamed pum option, a removed command, a shell syntax error or a cargo option
//! that does not exist fails this test.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::readme::{build_dirs, readme_steps};
use crate::support::Bounded;
use crate::support::output::stderr;

/// One CI job: its environment and its shell blocks, in order.
#[derive(Debug)]
struct Job {
    name: String,
    env: BTreeMap<String, String>,
    blocks: Vec<String>,
}

/// The ```yaml blocks of the README's "CI recipes" section, parsed.
fn recipes() -> Vec<Value> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(readme).unwrap();
    let (_, section) = text
        .split_once("\n## CI recipes\n")
        .expect("a CI recipes section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .split("```yaml\n")
        .skip(1)
        .map(|rest| rest.split_once("\n```").expect("a closed yaml block").0)
        .map(|yaml| serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}")))
        .collect()
}

/// A YAML scalar as the shell sees it.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `map`'s entries as environment variables.
fn variables(map: &Value) -> BTreeMap<String, String> {
    map.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), scalar(v)))
        .collect()
}

fn github_jobs(workflow: &Value) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (name, job) in workflow["jobs"].as_object().expect("jobs") {
        let mut env = variables(&workflow["env"]);
        env.extend(variables(&job["env"]));
        let matrix: Vec<(String, String)> = job["strategy"]["matrix"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, values)| (k.clone(), scalar(&values[0])))
            .collect();
        let blocks = job["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|step| step["run"].as_str())
            .map(|run| {
                let mut run = run.to_string();
                for (key, value) in &matrix {
                    run = run.replace(&format!("${{{{ matrix.{key} }}}}"), value);
                }
                assert!(
                    !run.contains("${{"),
                    "{name}: an expression the test cannot give: {run}"
                );
                run
            })
            .collect();
        jobs.push(Job {
            name: format!("github {name}"),
            env,
            blocks,
        });
    }
    jobs
}

fn gitlab_jobs(pipeline: &Value) -> Vec<Job> {
    const KEYWORDS: [&str; 9] = [
        "default",
        "variables",
        "stages",
        "workflow",
        "include",
        "image",
        "services",
        "cache",
        "before_script",
    ];
    let mut jobs = Vec::new();
    for (name, job) in pipeline.as_object().expect("a mapping") {
        if KEYWORDS.contains(&name.as_str()) || name.starts_with('.') {
            continue;
        }
        let mut env = variables(&pipeline["variables"]);
        env.extend(variables(&job["variables"]));
        if let Some(total) = job["parallel"].as_u64() {
            env.insert("CI_NODE_INDEX".into(), "1".into());
            env.insert("CI_NODE_TOTAL".into(), total.to_string());
        }
        let lines = |key: &str| -> Vec<String> {
            job[key]
                .as_array()
                .or(pipeline["default"][key].as_array())
                .into_iter()
                .flatten()
                .map(scalar)
                .collect()
        };
        let mut blocks = lines("before_script");
        blocks.extend(lines("script"));
        jobs.push(Job {
            name: format!("gitlab {name}"),
            env,
            blocks,
        });
    }
    jobs
}

/// Writes the stand-ins for `cargo` and `apt-get` into `dir`: each appends one line to
/// `log`, its name and arguments separated by U+001F.
fn stand_ins(dir: &Path, log: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for name in ["cargo", "apt-get"] {
        let path = dir.join(name);
        let script = format!(
            "#!/bin/sh\n{{ printf '%s' {name}; for a in \"$@\"; do printf '\\037%s' \"$a\"; \
             done; printf '\\n'; }} >> '{}'\n",
            log.display()
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Stops the ephemeral server a job started (`pum server stop --purge` with the job's
/// environment, which says where its data is), also when the job failed.
struct StopServer<'a> {
    job: &'a Job,
    dir: &'a Path,
}

impl Drop for StopServer<'_> {
    fn drop(&mut self) {
        let (bin, _) = build_dirs();
        let _ = Command::new(bin.join("pum"))
            .args(["-q", "server", "stop", "--purge"])
            .envs(&self.job.env)
            .env("PUM_SERVER_DIR", self.dir)
            .stdin(Stdio::null())
            .bounded_output();
    }
}

/// Runs `job`'s blocks in `project`; what they printed.
fn run_job(job: &Job, project: &Path, path: &str, server_dir: &Path) -> String {
    let _stop = StopServer {
        job,
        dir: server_dir,
    };
    let mut printed = String::new();
    for block in &job.blocks {
        let bash = |args: &[&str]| -> Output {
            let mut command = Command::new("bash");
            command
                .args(args)
                .arg(block)
                .current_dir(project)
                .env("PATH", path)
                .env_remove("PUM_TEST_DATABASE_URL")
                .env_remove("CARGO_TARGET_DIR")
                .envs(&job.env)
                .env("PUM_SERVER_DIR", server_dir)
                .stdin(Stdio::null());
            // The service container is the tests' server; so is the ephemeral server
            // when the tests run on one given to them (the server programs may be
            // missing there).
            if job.env.contains_key("PUM_TEST_DATABASE_URL")
                || crate::support::target().own.is_none()
            {
                command.env("PUM_TEST_DATABASE_URL", crate::support::spec().url());
            }
            command.bounded_output()
        };
        let syntax = bash(&["-n", "-c"]);
        assert!(
            syntax.status.success(),
            "{}: {block}\n{}",
            job.name,
            stderr(&syntax)
        );
        let out = bash(&["-e", "-o", "pipefail", "-c"]);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(out.status.success(), "{}: {block}\n{text}", job.name);
        printed.push_str(&text);
    }
    printed
}

/// Checks one recorded `cargo` call against the real cargo's help.
fn check_cargo_call(args: &[&str]) {
    let words: Vec<&str> = args
        .iter()
        .copied()
        .take_while(|a| !a.starts_with('-'))
        .collect();
    let subcommand = &words[..words.len().min(if words[0] == "nextest" { 2 } else { 1 })];
    let help = Command::new("cargo")
        .args(subcommand)
        .arg("--help")
        .stdin(Stdio::null())
        .bounded_output();
    if !help.status.success() && subcommand[0] == "nextest" {
        eprintln!(
            "skipped: cargo nextest is not installed, `cargo {}` unchecked",
            args.join(" ")
        );
        return;
    }
    assert!(
        help.status.success(),
        "cargo {subcommand:?} --help: {}",
        stderr(&help)
    );
    let help = String::from_utf8_lossy(&help.stdout);
    for (i, arg) in args.iter().enumerate() {
        let Some(option) = arg
            .strip_prefix("--")
            .map(|o| o.split('=').next().unwrap_or(o))
        else {
            continue;
        };
        let listed = help
            .match_indices(&format!("--{option}"))
            .any(|(at, found)| {
                !help[at + found.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-')
            });
        assert!(
            listed,
            "cargo {}: no --{option} in its help",
            subcommand.join(" ")
        );
        if option == "partition" {
            let value = args.get(i + 1).copied().unwrap_or_default();
            let (kind, share) = value.split_once(':').unwrap_or_default();
            let (k, n) = share.split_once('/').unwrap_or_default();
            let (k, n) = (k.parse::<u32>().unwrap_or(0), n.parse::<u32>().unwrap_or(0));
            assert!(
                ["count", "hash"].contains(&kind) && 1 <= k && k <= n,
                "--partition {value}"
            );
        }
    }
}

#[test]
fn ci_recipes_run_as_printed() {
    let recipes = recipes();
    let (github, gitlab): (Vec<&Value>, Vec<&Value>) =
        recipes.iter().partition(|doc| doc.get("jobs").is_some());
    assert_eq!((github.len(), gitlab.len()), (1, 1), "one recipe each");
    // What the recipes are for: root containers, a cached target directory, one service
    // for the test runners.
    let (workflow, pipeline) = (github[0], gitlab[0]);
    for job in workflow["jobs"].as_object().unwrap().values() {
        assert!(scalar(&job["container"]).starts_with("rust:"), "{job}");
        let cache = job["steps"].as_array().unwrap().iter().find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/cache@"))
        });
        assert!(cache.is_some_and(|c| scalar(&c["with"]["path"]).contains("target")));
    }
    assert!(scalar(&pipeline["default"]["image"]).starts_with("rust:"));
    assert!(
        pipeline["default"]["cache"]["paths"]
            .to_string()
            .contains("target")
    );
    assert!(workflow["jobs"]["test"]["services"]["postgres"].is_object());
    assert!(
        pipeline["test"]["services"]
            .to_string()
            .contains("postgres")
    );

    let sandbox = tempfile::tempdir().unwrap();
    let project = sandbox.path().join("project");
    for (file, text) in readme_steps().files {
        let file = project.join(file);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let stubs = sandbox.path().join("bin");
    std::fs::create_dir(&stubs).unwrap();
    let log = sandbox.path().join("calls");
    stand_ins(&stubs, &log);
    let (bin, _) = build_dirs();
    let path = format!(
        "{}:{}:{}",
        stubs.display(),
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let server_dir = sandbox.path().join("server");
    let jobs: Vec<Job> = github_jobs(workflow)
        .into_iter()
        .chain(gitlab_jobs(pipeline))
        .collect();
    let mut printed = String::new();
    let mut ran = Vec::new();
    for job in &jobs {
        ran.push(job.name.as_str());
        printed.push_str(&run_job(job, &project, &path, &server_dir));
    }
    assert_eq!(
        ran,
        ["github lint", "github test", "gitlab lint", "gitlab test"]
    );
    // pum lint ran, twice, on the First steps' two versions.
    assert_eq!(
        printed
            .matches("pum lint: 2 versions (1.0.0 to 1.1.0)")
            .count(),
        2,
        "{printed}"
    );

    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<Vec<&str>> = calls.lines().map(|l| l.split('\u{1f}').collect()).collect();
    for call in &calls {
        match call[0] {
            "cargo" => check_cargo_call(&call[1..]),
            _ => assert!(
                call[1] == "update" || (call[1] == "install" && call.contains(&"postgresql")),
                "apt-get {call:?}"
            ),
        }
    }
    let partitions = calls
        .iter()
        .filter(|c| c.starts_with(&["cargo", "nextest", "run"]) && c.contains(&"count:1/2"))
        .count();
    assert_eq!(partitions, 2, "{calls:?}");
}
