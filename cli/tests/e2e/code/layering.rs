//! The map that cannot drift (in the spirit of rust-analyzer's `tidy`): the floor table of
//! ARCHITECTURE.md is read as the library's layering, and every import of `src/**/*.rs`
//! is held against it.
//!
//! What is read: `use` trees (`crate::`, `super::`, `self::` and a file's own child
//! modules), and `crate::…`/`super::…` paths written in code. Comments and string
//! literals are blanked first, so a doc link or an SQL text never counts. Test code is
//! not read: inline `#[cfg(test)] mod … { … }` blocks and files declared under
//! `#[cfg(test)]` (such as `migrate/plan/tests.rs`) may reach anything of their module.
//!
//! What fails, naming `file:line`:
//! - a top-level module importing one on a higher floor or on its own floor (same-floor
//!   imports are not allowed: two modules that need each other's floor are two floors);
//! - a top-level module of `src/` missing from the table, or a table entry naming none;
//! - a circle between files: the file-level import graph, where `crate::a::b::C` is the
//!   longest existing module file (`a/b.rs`, else `a/mod.rs` or `a.rs`) and a name the
//!   crate root re-exports (`crate::Error`) is the module it comes from. A file's use of
//!   its own ancestors (a child taking `super::Options` from its `mod.rs`) is the module's
//!   face and no arrow: the parent declares the child, the child reads the parent's types.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod parse;
use parse::*;

/// A module path below the crate root: `["migrate", "plan"]`; empty for `lib.rs`.
type ModPath = Vec<String>;

/// One import: where it is written and the absolute module path it names.
struct Import {
    line: usize,
    target: ModPath,
}

/// A source file, as the check reads it.
struct SourceFile {
    /// Relative to the repository, for messages (`src/lock.rs`).
    shown: String,
    module: ModPath,
    /// Child modules declared under `#[cfg(test)]` (`mod tests;`): their files are not read.
    test_children: BTreeSet<String>,
    imports: Vec<Import>,
}

#[test]
fn every_import_of_the_library_points_down_the_floors_of_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut files = Vec::new();
    collect(&root.join("src"), &root, &mut files);
    assert!(files.len() > 20, "src/ read: {} files", files.len());
    let problems = check(&map, &files);
    assert!(
        problems.is_empty(),
        "the code and the floor table of ARCHITECTURE.md disagree (change the code, or the \
         map if the layering is meant to change):\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_planted_climb_a_missing_module_and_a_circle_each_fail_by_file_and_line() {
    let map = "# A house\n\n## Floors\n\n| floor | modules |\n|---|---|\n\
               | 1 | `error`, text |\n| 2 | wire |\n| 3 | lock |\n| 4 | gone |\n";
    let files = |extra: &[(&str, &str)]| {
        let mut files: Vec<(String, String)> = vec![
            (
                "src/lib.rs".into(),
                "mod error;\nmod lock;\nmod text;\nmod wire;\npub use error::{Error, Result};\n"
                    .into(),
            ),
            ("src/error.rs".into(), "pub struct Error;\n".into()),
            (
                "src/text.rs".into(),
                "// use crate::lock::X;\n#[cfg(test)]\nmod tests {\n    use crate::wire::X;\n}\n"
                    .into(),
            ),
            (
                "src/wire/mod.rs".into(),
                "mod session;\nuse crate::Error;\n/// [`crate::lock::Held`]\npub use session::Raw;\n"
                    .into(),
            ),
            (
                "src/wire/session.rs".into(),
                "use super::super::error::Error;\nconst SQL: &str = \"crate::lock::x\";\n".into(),
            ),
            (
                "src/lock.rs".into(),
                "use crate::{error::Error, wire::{self, session::Raw}};\n\
                 #[cfg(test)]\nmod tests {\n    use crate::lock::*;\n}\n"
                    .into(),
            ),
        ];
        for (path, text) in extra {
            match files.iter_mut().find(|(p, _)| p == path) {
                Some(file) => file.1.push_str(text),
                None => files.push((path.to_string(), text.to_string())),
            }
        }
        files
            .iter()
            .map(|(path, text)| read_source(path, text))
            .collect::<Vec<_>>()
    };
    // The house as the map says, but for the table's entry naming no module.
    assert_eq!(
        check(map, &files(&[])),
        ["ARCHITECTURE.md: the floor table names `gone`, which is no module of src/"]
    );
    let map = map.replace("| 4 | gone |\n", "");
    assert_eq!(check(&map, &files(&[])), Vec::<String>::new());

    // The rooms table, further down, must agree with the floor table.
    let rooms = format!(
        "{map}\n## Rooms\n\n| floor | module | files |\n|---|---|---|\n| 2 | `lock` | `lock.rs` |\n"
    );
    assert_eq!(
        check(&rooms, &files(&[])),
        ["ARCHITECTURE.md:15: `lock` on floor 2, but the floor table says 3"]
    );

    // A climb: the wire session takes something of the lock, a floor above it.
    let climbed = check(
        &map,
        &files(&[("src/wire/session.rs", "\nfn f() { crate::lock::take(); }\n")]),
    );
    assert!(
        climbed.contains(
            &"src/wire/session.rs:4: wire (floor 2) imports lock (floor 3), which is not below it"
                .to_string()
        ),
        "{climbed:#?}"
    );
    // ... which is also a circle of files (through the module's face, which lock uses).
    assert!(
        climbed.iter().any(|p| p.starts_with("circle of 3 files: ")
            && p.contains("src/wire/session.rs -> src/lock.rs (src/wire/session.rs:4)")),
        "{climbed:#?}"
    );

    // A same-floor import.
    let same = check(
        &map,
        &files(&[("src/text.rs", "use crate::error::Error;\n")]),
    );
    assert_eq!(
        same,
        ["src/text.rs:6: text (floor 1) imports error (floor 1), which is not below it"]
    );

    // A module the table does not place.
    let missing = check(
        &map,
        &files(&[("src/fleet.rs", "use crate::lock::Lock;\n")]),
    );
    assert_eq!(
        missing,
        ["ARCHITECTURE.md: module `fleet` (src/fleet.rs) is on no floor of the table"]
    );

    // A circle of siblings inside one module, with no climb between top-level modules.
    let circle = check(
        &map,
        &files(&[
            ("src/wire/mod.rs", "mod proxy;\n"),
            ("src/wire/session.rs", "use super::proxy::Proxy;\n"),
            ("src/wire/proxy.rs", "\n\nuse crate::wire::session::Raw;\n"),
        ]),
    );
    assert_eq!(
        circle,
        [
            "circle of 2 files: src/wire/proxy.rs -> src/wire/session.rs (src/wire/proxy.rs:3), \
             src/wire/session.rs -> src/wire/proxy.rs (src/wire/session.rs:3)"
        ]
    );
}

/// Every `.rs` file under `dir`, read.
fn collect(dir: &Path, root: &Path, out: &mut Vec<SourceFile>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read src/")
        .map(|e| e.expect("read src/").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read a source file");
            let shown = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push(read_source(&shown, &text));
        }
    }
}

/// The module path of `src/a/b.rs` (`a::b`), `src/a/mod.rs` (`a`), `src/lib.rs` (root).
fn module_of(shown: &str) -> ModPath {
    let inner = shown.strip_prefix("src/").expect("a file of src/");
    let inner = inner.strip_suffix(".rs").expect("a Rust file");
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Reads one file: its module, its child modules and every import it writes.
fn read_source(shown: &str, text: &str) -> SourceFile {
    let module = module_of(shown);
    let code = without_test_modules(&blank_comments_and_strings(text));
    let children = child_modules(&code);
    let mut imports = Vec::new();
    let mut in_use = vec![false; code.len()];
    for (start, end) in use_statements(&code) {
        in_use[start..end].iter_mut().for_each(|b| *b = true);
        for (path, line) in use_tree(&code[start..end], line_at(&code, start)) {
            if let Some(target) = absolute(&module, &children, &path) {
                imports.push(Import { line, target });
            }
        }
    }
    for (at, path) in code_paths(&code, &children) {
        if in_use[at] {
            continue;
        }
        if let Some(target) = absolute(&module, &children, &path) {
            imports.push(Import {
                line: line_at(&code, at),
                target,
            });
        }
    }
    imports.sort_by_key(|i| i.line);
    SourceFile {
        shown: shown.to_string(),
        test_children: test_children(&code),
        module,
        imports,
    }
}

/// The check itself: every problem, one line each; empty when the code keeps the map.
fn check(map: &str, files: &[SourceFile]) -> Vec<String> {
    let (floors, mut problems) = floor_table(map);
    if floors.is_empty() {
        return vec!["ARCHITECTURE.md: no floor table (`| floor | modules |`) found".into()];
    }
    let test_only: Vec<ModPath> = files
        .iter()
        .flat_map(|f| {
            f.test_children.iter().map(|child| {
                let mut module = f.module.clone();
                module.push(child.clone());
                module
            })
        })
        .collect();
    let files: Vec<&SourceFile> = files
        .iter()
        .filter(|f| !test_only.iter().any(|t| f.module.starts_with(t)))
        .collect();
    let modules: BTreeSet<ModPath> = files.iter().map(|f| f.module.clone()).collect();
    let reexports = root_reexports(&files);

    // (b) the table and the top-level modules agree.
    let mut tops: BTreeMap<&str, &str> = BTreeMap::new();
    for file in &files {
        if let Some(top) = file.module.first() {
            tops.entry(top.as_str()).or_insert(file.shown.as_str());
        }
    }
    for name in floors.keys() {
        if !tops.contains_key(name.as_str()) {
            problems.push(format!(
                "ARCHITECTURE.md: the floor table names `{name}`, which is no module of src/"
            ));
        }
    }
    for (top, shown) in &tops {
        if !floors.contains_key(*top) {
            problems.push(format!(
                "ARCHITECTURE.md: module `{top}` ({shown}) is on no floor of the table"
            ));
        }
    }

    // (a) imports between top-level modules point down; build the file graph for (c).
    let file_of = |module: &ModPath| -> Option<usize> {
        (0..=module.len())
            .rev()
            .map(|n| &module[..n])
            .find_map(|prefix| files.iter().position(|f| f.module == prefix))
    };
    let mut edges: BTreeMap<usize, BTreeMap<usize, usize>> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let Some(from_top) = file.module.first() else {
            continue; // lib.rs, the roof: it declares and re-exports everything.
        };
        for import in &file.imports {
            let target = resolve(&import.target, &modules, &reexports);
            let Some(to_top) = target.first() else {
                continue;
            };
            if to_top != from_top
                && let (Some(&from), Some(&to)) = (floors.get(from_top), floors.get(to_top))
                && to >= from
            {
                problems.push(format!(
                    "{}:{}: {from_top} (floor {from}) imports {to_top} (floor {to}), which is \
                     not below it",
                    file.shown, import.line
                ));
            }
            if let Some(to) = file_of(&target)
                && to != index
                && !file.module.starts_with(&files[to].module)
            {
                edges
                    .entry(index)
                    .or_default()
                    .entry(to)
                    .or_insert(import.line);
            }
        }
    }

    // (c) no circle of files.
    for component in circles(files.len(), &edges) {
        let mut ties = Vec::new();
        for &from in &component {
            for (&to, &line) in edges.get(&from).into_iter().flatten() {
                if component.contains(&to) {
                    ties.push(format!(
                        "{} -> {} ({}:{line})",
                        files[from].shown, files[to].shown, files[from].shown
                    ));
                }
            }
        }
        ties.sort();
        problems.push(format!(
            "circle of {} files: {}",
            component.len(),
            ties.join(", ")
        ));
    }
    problems.dedup();
    problems
}

/// `floor number` by top-level module, from the first table whose header is
/// `| floor | … |`; any later table of that header (the rooms, file by file) must place
/// each module it names on the same floor, or that is a problem.
fn floor_table(map: &str) -> (BTreeMap<String, usize>, Vec<String>) {
    let mut floors: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut table = 0; // 0: outside; n: inside the n-th floor table
    let mut tables = 0;
    for (index, line) in map.lines().enumerate() {
        if !line.trim_start().starts_with('|') {
            table = 0;
            continue;
        }
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        if cells
            .first()
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("floor"))
        {
            tables += 1;
            table = tables;
            continue;
        }
        let (true, [number, names, ..]) = (table > 0, cells.as_slice()) else {
            continue;
        };
        let Ok(number) = number.trim().parse::<usize>() else {
            continue; // the |---| line
        };
        for name in names.split(',') {
            let name = name.trim().trim_matches('`').trim();
            if name.is_empty() {
                continue;
            }
            if table == 1 {
                floors.insert(name.to_string(), number);
            } else if floors.get(name) != Some(&number) {
                problems.push(format!(
                    "ARCHITECTURE.md:{}: `{name}` on floor {number}, but the floor table says {}",
                    index + 1,
                    floors.get(name).map_or("none".into(), ToString::to_string)
                ));
            }
        }
    }
    (floors, problems)
}

/// The names of `#[cfg(test)] mod name;` declarations.
fn test_children(code: &str) -> BTreeSet<String> {
    code.match_indices("#[cfg(test)]")
        .filter_map(|(at, attribute)| {
            let rest = code[at + attribute.len()..].trim_start();
            let rest = rest.strip_prefix("pub(crate) ").unwrap_or(rest);
            let (name, _) = rest.strip_prefix("mod ")?.split_once(';')?;
            let name = name.trim();
            name.chars()
                .all(|c| c.is_alphanumeric() || c == '_')
                .then(|| name.to_string())
        })
        .collect()
}

/// The names `lib.rs` re-exports (`pub use error::{Error, Result}`), by where they come
/// from.
fn root_reexports(files: &[&SourceFile]) -> BTreeMap<String, ModPath> {
    files
        .iter()
        .find(|f| f.module.is_empty())
        .map(|lib| {
            lib.imports
                .iter()
                .filter_map(|i| Some((i.target.last()?.clone(), i.target.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// The longest module path that exists within `target`; a name of the crate root is the
/// module lib.rs takes it from.
fn resolve(
    target: &ModPath,
    modules: &BTreeSet<ModPath>,
    reexports: &BTreeMap<String, ModPath>,
) -> ModPath {
    let longest = |path: &ModPath| -> ModPath {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|prefix| modules.contains(prefix))
            .unwrap_or_default()
    };
    let found = longest(target);
    if found.is_empty()
        && let Some(first) = target.first()
        && let Some(source) = reexports.get(first)
        && source.len() > 1
    {
        return longest(source);
    }
    found
}

/// Strongly connected components of more than one file (Tarjan's algorithm).
fn circles(count: usize, edges: &BTreeMap<usize, BTreeMap<usize, usize>>) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a BTreeMap<usize, BTreeMap<usize, usize>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        found: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        let targets: Vec<usize> = s
            .edges
            .get(&v)
            .into_iter()
            .flatten()
            .map(|(&w, _)| w)
            .collect();
        for w in targets {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(index) if s.on_stack[w] => s.low[v] = s.low[v].min(index),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort_unstable();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: vec![None; count],
        low: vec![0; count],
        on_stack: vec![false; count],
        stack: Vec::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in 0..count {
        if state.index[v].is_none() {
            visit(&mut state, v);
        }
    }
    state.found
}
