//! Reading Rust source as the layering check needs it: `use` trees, `crate::`/`super::`
//! paths in code, child modules, with comments, strings and test modules blanked.

use std::collections::BTreeSet;

use super::ModPath;

/// `path` (as written in `module`) as an absolute module path, or `None` when it is not
/// the crate's (`std::…`, `postgres::…`, a local name).
pub(super) fn absolute(
    module: &ModPath,
    children: &BTreeSet<String>,
    path: &[String],
) -> Option<ModPath> {
    let mut at: ModPath = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module.clone(),
        child if children.contains(child) => {
            let mut at = module.clone();
            at.push(child.to_string());
            return Some(at.into_iter().chain(path[1..].iter().cloned()).collect());
        }
        _ => return None,
    };
    let mut rest = path;
    if rest[0] == "crate" || rest[0] == "self" {
        rest = &rest[1..];
    }
    while rest.first().is_some_and(|s| s == "super") {
        at.pop()?;
        rest = &rest[1..];
    }
    at.extend(rest.iter().filter(|s| *s != "self" && *s != "*").cloned());
    Some(at)
}

/// The names of `mod name;` declarations (child modules in files of their own).
pub(super) fn child_modules(code: &str) -> BTreeSet<String> {
    let mut children = BTreeSet::new();
    for line in code.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "mod")
            && let Some(name) = words.get(i + 1).and_then(|n| n.strip_suffix(';'))
        {
            children.insert(name.to_string());
        }
    }
    children
}

/// Byte ranges of `use …;` statements.
pub(super) fn use_statements(code: &str) -> Vec<(usize, usize)> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(offset) = code[i..].find("use ") {
        let start = i + offset;
        let boundary = start == 0 || !is_ident_byte(bytes[start - 1]);
        let end = code[start..].find(';').map_or(code.len(), |e| start + e);
        if boundary {
            found.push((start + 4, end));
            i = end;
        } else {
            i = start + 4;
        }
    }
    found
}

/// The paths a use tree names, each with the line of its last segment.
pub(super) fn use_tree(text: &str, first_line: usize) -> Vec<(Vec<String>, usize)> {
    let mut tokens = Vec::new();
    let mut line = first_line;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => line += 1,
            '{' | '}' | ',' | '*' => tokens.push((c.to_string(), line)),
            c if c.is_alphanumeric() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push((text[i..end].to_string(), line));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut at = 0;
    tree(&tokens, &mut at, &[], &mut out);
    out
}

/// Reads one use tree from `tokens[*at..]` under `prefix`.
pub(super) fn tree(
    tokens: &[(String, usize)],
    at: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, usize)>,
) {
    let mut path = prefix.to_vec();
    let mut line = tokens.get(*at).map_or(0, |t| t.1);
    while let Some((token, l)) = tokens.get(*at) {
        match token.as_str() {
            "{" => {
                *at += 1;
                loop {
                    tree(tokens, at, &path, out);
                    match tokens.get(*at).map(|t| t.0.as_str()) {
                        Some(",") => *at += 1,
                        Some("}") => {
                            *at += 1;
                            break;
                        }
                        _ => break,
                    }
                    if tokens.get(*at).is_some_and(|t| t.0 == "}") {
                        *at += 1;
                        break;
                    }
                }
                return;
            }
            "}" | "," => break,
            "as" => *at += 2, // `as alias`: the alias names nothing new
            "*" => *at += 1,
            _ => {
                path.push(token.clone());
                line = *l;
                *at += 1;
            }
        }
    }
    if path.len() > prefix.len() {
        out.push((path, line));
    }
}

/// `crate::…`, `super::…` and `child::…` paths written in code, by byte offset.
pub(super) fn code_paths(code: &str, children: &BTreeSet<String>) -> Vec<(usize, Vec<String>)> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_ident_byte(bytes[i])
            || (i > 0 && (is_ident_byte(bytes[i - 1]) || bytes[i - 1] == b':'))
        {
            i += 1;
            continue;
        }
        let mut path = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < bytes.len() && is_ident_byte(bytes[j]) {
                j += 1;
            }
            path.push(code[start..j].to_string());
            if code[j..].starts_with("::") && bytes.get(j + 2).is_some_and(|b| is_ident_byte(*b)) {
                j += 2;
            } else {
                break;
            }
        }
        let first = path[0].as_str();
        if path.len() > 1 && (first == "crate" || first == "super" || children.contains(first)) {
            found.push((i, path));
        }
        i = j.max(i + 1);
    }
    found
}

pub(super) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub(super) fn line_at(code: &str, offset: usize) -> usize {
    code[..offset].matches('\n').count() + 1
}

/// `text` with comments, string and character literals replaced by spaces (newlines
/// kept, so lines and byte offsets stay where they were).
pub(super) fn blank_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    };
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if c == 'r'
            && (i == 0
                || !ident(chars[i - 1])
                || (chars[i - 1] == 'b' && (i < 2 || !ident(chars[i - 2]))))
            && matches!(next, Some('#' | '"'))
        {
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            out.push('r');
            i += 1;
            for _ in 0..=hashes {
                out.push(' ');
                i += 1;
            }
            while i < chars.len() && !chars[i..].starts_with(&close) {
                blank(&mut out, chars[i]);
                i += 1;
            }
            for _ in 0..close.len().min(chars.len() - i) {
                out.push(' ');
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                blank(&mut out, chars[i]);
                i += 1;
            }
            if i < chars.len() {
                out.push(' ');
                i += 1;
            }
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\''); a lifetime ('a) has no closing quote.
            out.push(' ');
            i += 1;
            if chars.get(i) == Some(&'\\') {
                blank(&mut out, chars[i]);
                i += 1;
            }
            while i < chars.len() && chars[i] != '\'' {
                blank(&mut out, chars[i]);
                i += 1;
            }
            if i < chars.len() {
                out.push(' ');
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` with every `#[cfg(test)] mod name { … }` block blanked (test code may reach
/// anything of its module).
pub(super) fn without_test_modules(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(offset) = out[from..].find("#[cfg(test)]") {
        let start = from + offset;
        let after = start + "#[cfg(test)]".len();
        let rest = out[after..].trim_start();
        let rest = rest.strip_prefix("pub(crate) ").unwrap_or(rest);
        let is_block = rest.strip_prefix("mod ").is_some_and(|r| {
            let name_end = r
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            name_end > 0 && r[name_end..].trim_start().starts_with('{')
        });
        if !is_block {
            from = after;
            continue;
        }
        let open = after + out[after..].find('{').expect("a block");
        let mut depth = 0;
        let mut end = out.len();
        for (i, b) in out[open..].bytes().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let blanked: String = out[start..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(start..end, &blanked);
        from = end;
    }
    out
}
