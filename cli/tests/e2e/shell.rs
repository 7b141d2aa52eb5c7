//! What the shell and the terminal get: `pum completions SHELL` (each script loads in its
//! shell where that shell is installed, and bash's completes a command), `pum man` (a page
//! per command and subcommand, rendered by `man` where it is installed), and output
//! without escape codes in pipes and under `NO_COLOR` on a terminal.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::output::{error, ok, stderr, stdout};
use crate::support::{Bounded, ScratchDb};

/// Runs `pum` with `args` in the current directory.
fn pum(args: &[&str]) -> Output {
    crate::pum_in(Path::new("."), args)
}

/// Whether `program` runs here (`program --version`).
fn installed(program: &str) -> bool {
    let Ok(child) = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    crate::support::child::wait_output(child).status.success()
}

/// Runs `program args…` with `input` on standard input.
fn run_with_input(program: &str, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    crate::support::child::wait_output(child)
}

/// The commands `pum [PATH…] --help` lists (without `help`).
fn commands_under(path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let help = stdout(&pum(&args));
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

#[test]
fn completions_name_the_commands_and_load_in_their_shells() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = pum(&["completions", shell]);
        ok(&out);
        let script = stdout(&out);
        for command in ["install", "lint", "check", "completions"] {
            assert!(script.contains(command), "{shell}: no {command}");
        }
        let check: Option<(&str, Vec<&str>)> = match shell {
            "bash" => Some(("bash", vec!["-n"])),
            "zsh" => Some(("zsh", vec!["-n"])),
            "fish" => Some(("fish", vec!["--no-execute"])),
            "powershell" => Some(("pwsh", vec!["-NoProfile", "-Command", "-"])),
            _ => None,
        };
        match check {
            Some((program, args)) if installed(program) => {
                let checked = run_with_input(program, &args, &script);
                assert!(checked.status.success(), "{shell}: {}", stderr(&checked));
            }
            Some((program, _)) => eprintln!("skipped: {program} is not installed here"),
            None => eprintln!("skipped: no syntax check for {shell}"),
        }
    }
}

#[test]
fn bash_completes_commands_and_subcommands() {
    let script = stdout(&pum(&["completions", "bash"]));
    // bash calls the completion function with the command, the word and the one before.
    let complete = |words: &str| {
        let program = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
             _pum pum \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        stdout(&run_with_input("bash", &["--norc", "-s"], &program))
    };
    assert_eq!(complete("pum ins"), "install\n");
    assert_eq!(complete("pum db cr"), "create\n");
    assert!(complete("pum completions ''").contains("powershell\n"));
}

#[test]
fn an_unknown_shell_is_one_line_and_exit_status_2() {
    let out = pum(&["completions", "tcsh"]);
    let message = error(&out);
    assert!(
        message.starts_with("invalid value 'tcsh' for '<SHELL>' [possible values: bash, elvish, fish, powershell, zsh]"),
        "{message}"
    );
    assert!(out.stdout.is_empty());
    let message = error(&pum(&["completions"]));
    assert!(message.contains("<SHELL>"), "{message}");
}

#[test]
fn man_prints_a_page_naming_every_command() {
    let out = pum(&["man"]);
    ok(&out);
    let page = stdout(&out);
    assert!(page.lines().any(|l| l.starts_with(".TH pum 1 ")), "{page}");
    let commands = commands_under(&[]);
    assert!(commands.len() >= 20, "{commands:?}");
    for command in &commands {
        let entry = format!("pum\\-{}(1)", command.replace('-', "\\-"));
        assert!(page.contains(&entry), "no {entry} in pum.1");
    }
    let page = stdout(&pum(&["man", "db", "create"]));
    assert!(page.contains(".TH pum-db-create 1 "), "{page}");
    assert!(page.contains("\\-\\-template"), "{page}");
    if installed("man") {
        let shown = run_with_input("man", &["-l", "-"], &stdout(&pum(&["man", "install"])));
        let text = stdout(&shown);
        assert!(shown.status.success(), "{}", stderr(&shown));
        assert!(
            text.contains("SYNOPSIS") && text.contains("--max-version"),
            "{text}"
        );
    } else {
        eprintln!("skipped: man is not installed here, the pages are not rendered");
    }
}

#[test]
fn man_out_dir_writes_a_page_per_command_and_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let out = pum(&["-q", "man", "--out-dir", pages.to_str().unwrap()]);
    ok(&out);
    let mut expected = vec!["pum.1".to_string()];
    for command in commands_under(&[]) {
        expected.push(format!("pum-{command}.1"));
        for sub in commands_under(&[&command]) {
            expected.push(format!("pum-{command}-{sub}.1"));
        }
    }
    let mut written: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    expected.sort();
    assert_eq!(written, expected);
    assert!(expected.contains(&"pum-db-create.1".to_string()));
    let page = std::fs::read_to_string(pages.join("pum-server-start.1")).unwrap();
    assert!(page.contains(".TH pum-server-start 1 "), "{page}");
    assert!(
        page.contains(&format!("\"pum {}\"", env!("CARGO_PKG_VERSION"))),
        "{page}"
    );
}

#[test]
fn man_refuses_an_unknown_command_and_a_file_for_a_directory() {
    let message = error(&pum(&["man", "db", "nosuch"]));
    assert_eq!(
        message,
        "there is no command \"pum db nosuch\" (see pum db --help)"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = pum(&["man", "--out-dir", file.path().to_str().unwrap()]);
    let message = error(&out);
    assert!(
        message.starts_with(&file.path().display().to_string()),
        "{message}"
    );
    assert!(std::fs::read(file.path()).unwrap().is_empty(), "untouched");
}

/// Two databases whose column `t.a` differs, as URLs.
fn different_pair() -> (ScratchDb, ScratchDb) {
    let left = ScratchDb::new("color_l", "CREATE TABLE public.t (a int DEFAULT 1)");
    let right = ScratchDb::new("color_r", "CREATE TABLE public.t (a int DEFAULT 2)");
    (left, right)
}

#[test]
fn pipes_get_no_escape_codes() {
    let (left, right) = different_pair();
    let (l, r) = (left.spec().url(), right.spec().url());
    let project = crate::support::project::shop();
    let dir = project.path().to_str().unwrap();
    for args in [
        vec!["-p", &l, "check", &r],
        vec!["-p", &l, "-d", dir, "role", "list"],
        vec!["-p", &l, "-d", dir, "install"],
        vec!["-p", &l, "-d", dir, "info"],
        vec!["-d", dir, "lint", "--from", "1.1.0"],
    ] {
        let out = pum(&args);
        assert!(
            out.status.code().is_some_and(|c| c < 2),
            "{args:?}: {}",
            stderr(&out)
        );
        let all = [out.stdout, out.stderr].concat();
        assert!(
            !all.contains(&0x1b),
            "{args:?}: {}",
            String::from_utf8_lossy(&all)
        );
    }
}

/// Runs `pum ARGS` on a pseudo-terminal (util-linux `script`), `NO_COLOR` as given;
/// what the terminal showed (standard output and error together). `None` without
/// `script`.
fn on_terminal(args: &[&str], no_color: Option<&str>) -> Option<String> {
    if !installed("script") {
        return None;
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_pum"))
        .chain(args.iter().copied())
        .map(|word| format!("'{}'", word.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = Command::new("script");
    command
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    match no_color {
        Some(value) => command.env("NO_COLOR", value),
        None => command.env_remove("NO_COLOR"),
    };
    let out = command.bounded_output();
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", stdout(&out));
    Some(stdout(&out))
}

#[test]
fn no_color_keeps_a_terminal_free_of_escape_codes() {
    let (left, right) = different_pair();
    let (l, r) = (left.spec().url(), right.spec().url());
    let check = ["-p", l.as_str(), "check", r.as_str()];
    let Some(coloured) = on_terminal(&check, None) else {
        eprintln!("skipped: script (util-linux) is not installed, no pseudo-terminal");
        return;
    };
    // The control: on a terminal without NO_COLOR, check colours what differs.
    assert!(coloured.contains("\x1b["), "{coloured}");
    let plain = on_terminal(&check, Some("1")).unwrap_or_default();
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("~ public.t.a"), "{plain}");
    // NO_COLOR set but empty is as unset.
    assert!(
        on_terminal(&check, Some(""))
            .unwrap_or_default()
            .contains("\x1b[")
    );

    // Progress bars redraw with escape codes: under NO_COLOR, lines instead.
    let project = crate::support::project::shop();
    let dir = project.path().to_str().unwrap();
    let shown = on_terminal(&["-p", &l, "-d", dir, "install"], Some("1")).unwrap_or_default();
    assert!(!shown.contains('\x1b'), "{shown:?}");
    assert!(
        shown.contains("applying 1.10.0: changelogs/1.10.0/01_stock.sql"),
        "{shown}"
    );
    let roles = on_terminal(&["-p", &l, "-d", dir, "role", "list"], Some("1")).unwrap_or_default();
    assert!(!roles.contains('\x1b'), "{roles:?}");
}
