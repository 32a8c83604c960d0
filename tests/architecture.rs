//! The four layers, checked from the source text.
//!
//! `docs/architecture.md` describes `src/` as four layers whose imports point down only:
//! `proxysql` (ProxySQL's vocabulary, pure) <- `node`, and `proxysql` <- `client` <-
//! `console`. The console starts nodes as `pxadm node` child processes
//! (`console/launcher.rs`), so it imports nothing of `node`. This test reads every file of `src/`,
//! resolves each `crate::`, `super::` and `self::` path to the file that defines it, and
//! fails on an upward import, on a forbidden dependency of the pure layer, or on an import
//! cycle between files. Test-only code (`#[cfg(test)]` modules) is left out: a test may
//! reach anywhere it needs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One source file: its module path (`["node", "admin", "engine"]`) and its code without
/// test-only modules or comments.
struct SourceFile {
    module: Vec<String>,
    path: String,
    code: String,
    is_mod_file: bool,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src/")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Removes `//` and `/* */` comments and the contents of string literals, so that a path
/// named in a doc comment or an SQL string is not taken for an import.
fn strip_comments_and_strings(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'r'
            && matches!(bytes.get(i + 1), Some(b'#') | Some(b'"'))
            && is_word_start(bytes, i)
        {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while bytes.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if bytes.get(j) != Some(&b'"') {
                out.push(c as char);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= bytes.len() {
                    break;
                }
                if bytes[j] == b'"' && (0..hashes).all(|k| bytes.get(j + 1 + k) == Some(&b'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == b'\'' {
            // A char literal ('x', '\n', '"') or a lifetime ('a): skip only the literal.
            if bytes.get(i + 1) == Some(&b'\\') {
                let mut j = i + 2;
                while j < bytes.len() && bytes[j] != b'\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if bytes.get(i + 2) == Some(&b'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            // Keep UTF-8 intact: copy the whole character.
            let ch = text[i..].chars().next().expect("char boundary");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_word_start(bytes: &[u8], i: usize) -> bool {
    i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
}

/// Removes every `#[cfg(test)]` item (a `mod x;` line or a braced block).
fn strip_test_items(code: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(code.len());
    let mut test_children = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let brace = after.find('{').unwrap_or(after.len());
        let semi = after.find(';').unwrap_or(after.len());
        if semi < brace {
            // `#[cfg(test)] mod name;`: the whole file `name` is test code.
            let item = after[..semi].trim();
            if item.starts_with("mod ") || item.contains(" mod ") {
                if let Some(name) = item.split_whitespace().last() {
                    test_children.push(name.to_string());
                }
            }
            rest = after.get(semi + 1..).unwrap_or("");
        } else {
            let mut depth = 0usize;
            let mut end = after.len();
            for (k, ch) in after[brace..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = brace + k + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    (out, test_children)
}

fn load_sources() -> Vec<SourceFile> {
    let root = src_dir();
    let mut paths = Vec::new();
    collect(&root, &mut paths);
    let mut files = Vec::new();
    let mut test_only: BTreeSet<Vec<String>> = BTreeSet::new();
    for path in paths {
        let rel = path.strip_prefix(&root).expect("under src/");
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        let mut module: Vec<String> = rel_str
            .trim_end_matches(".rs")
            .split('/')
            .map(str::to_string)
            .collect();
        let is_mod_file = matches!(
            module.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        );
        if is_mod_file {
            module.pop();
        }
        let text = fs::read_to_string(&path).expect("read source");
        let (code, test_children) = strip_test_items(&strip_comments_and_strings(&text));
        for child in test_children {
            let mut m = module.clone();
            m.push(child);
            test_only.insert(m);
        }
        files.push(SourceFile {
            module,
            path: format!("src/{rel_str}"),
            code,
            is_mod_file,
        });
    }
    // A file under a test-only module is test code as a whole.
    files.retain(|f| !test_only.iter().any(|t| f.module.starts_with(t)));
    files
}

/// Every path expression that starts with `crate`, `super` or `self`, plus the paths of
/// `use` items whose first segment is a child module, expanded over `{...}` groups.
fn referenced_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    // `use` items, with their groups expanded.
    let mut rest = code;
    while let Some(at) = find_keyword(rest, "use") {
        let after = &rest[at + 3..];
        let Some(end) = after.find(';') else { break };
        expand_use_tree(after[..end].trim(), &mut Vec::new(), &mut paths);
        rest = &after[end..];
    }
    // Inline paths: crate::a::b, super::x, self::y.
    let bytes = code.as_bytes();
    for start_kw in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(pos) = code[from..].find(start_kw) {
            let at = from + pos;
            from = at + start_kw.len();
            if !is_word_start(bytes, at) || (at > 0 && bytes[at - 1] == b'$') {
                continue;
            }
            let mut end = at;
            while end < bytes.len()
                && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_' || bytes[end] == b':')
            {
                end += 1;
            }
            let segments: Vec<String> = code[at..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            paths.push(segments);
        }
    }
    paths
}

fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(keyword) {
        let at = from + pos;
        let before_ok = is_word_start(bytes, at);
        let after_ok = bytes
            .get(at + keyword.len())
            .is_some_and(|b| b.is_ascii_whitespace());
        if before_ok && after_ok {
            return Some(at);
        }
        from = at + keyword.len();
    }
    None
}

fn expand_use_tree(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let depth_before = prefix.len();
        prefix.extend(
            head.split("::")
                .filter(|s| !s.is_empty())
                .map(|s| s.trim().to_string()),
        );
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        for part in split_top_level(inner) {
            expand_use_tree(part, prefix, out);
        }
        prefix.truncate(depth_before);
    } else {
        let item = tree.split(" as ").next().unwrap_or(tree).trim();
        if item.is_empty() {
            return;
        }
        let mut path = prefix.clone();
        path.extend(item.split("::").map(|s| s.trim().to_string()));
        out.push(path);
    }
}

fn split_top_level(inner: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
}

/// The dependency graph between files: file path -> the files it names.
fn file_graph(files: &[SourceFile]) -> BTreeMap<String, BTreeSet<String>> {
    let by_module: BTreeMap<Vec<String>, &SourceFile> =
        files.iter().map(|f| (f.module.clone(), f)).collect();
    let mut graph = BTreeMap::new();
    for file in files {
        let mut deps = BTreeSet::new();
        for path in referenced_paths(&file.code) {
            let Some(absolute) = absolutize(file, &path, &by_module) else {
                continue;
            };
            // The longest prefix that is a file is the file that defines the item.
            let mut best = None;
            for len in (1..=absolute.len()).rev() {
                if let Some(target) = by_module.get(&absolute[..len]) {
                    best = Some(*target);
                    break;
                }
            }
            if let Some(target) = best {
                if target.path != file.path && !is_declaration_of(file, target) {
                    deps.insert(target.path.clone());
                }
            }
        }
        graph.insert(file.path.clone(), deps);
    }
    graph
}

/// A parent naming its own child module (`pub use child::Item`, `mod child`) is how Rust
/// lays out a module; it is not an import of a sibling's internals.
fn is_declaration_of(parent: &SourceFile, child: &SourceFile) -> bool {
    child.module.len() == parent.module.len() + 1 && child.module.starts_with(&parent.module)
}

fn absolutize(
    file: &SourceFile,
    path: &[String],
    by_module: &BTreeMap<Vec<String>, &SourceFile>,
) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut base: Vec<String> = file.module.clone();
    let mut segments = path;
    match first.as_str() {
        "crate" => {
            base.clear();
            segments = &path[1..];
        }
        "self" => segments = &path[1..],
        "super" => {
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                base.pop()?;
                k += 1;
            }
            segments = &path[k..];
        }
        _ => {
            // A child module named without `self::` (`use child::Item`).
            let mut candidate = base.clone();
            candidate.push(first.clone());
            if !by_module.contains_key(&candidate) {
                return None;
            }
        }
    }
    let _ = file.is_mod_file;
    base.extend(segments.iter().cloned());
    Some(base)
}

fn layer_of(path: &str) -> &str {
    path.trim_start_matches("src/")
        .split(['/', '.'])
        .next()
        .unwrap_or("")
}

#[test]
fn imports_point_down_the_four_layers() {
    let files = load_sources();
    let graph = file_graph(&files);
    // Who may import whom; the top-level entry points (`cli.rs`, `main.rs`) may use every
    // layer, since they wire `pxadm node` and the front ends together.
    let allowed = |from: &str, to: &str| -> bool {
        match (from, to) {
            (a, b) if a == b => true,
            ("proxysql", _) => false,
            ("node", "proxysql") => true,
            ("client", "proxysql") => true,
            ("console", "proxysql" | "client") => true,
            ("cli" | "main" | "lib", _) => true,
            _ => false,
        }
    };
    let mut wrong = Vec::new();
    for (from, deps) in &graph {
        for to in deps {
            if !allowed(layer_of(from), layer_of(to)) {
                wrong.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_vocabulary_layer_is_pure() {
    let forbidden = [
        "tokio",
        "rusqlite",
        "mysql_async",
        "std::net",
        "std::fs",
        "std::thread",
    ];
    let mut found = Vec::new();
    for file in load_sources()
        .iter()
        .filter(|f| layer_of(&f.path) == "proxysql")
    {
        for word in forbidden {
            let mut from = 0;
            while let Some(pos) = file.code[from..].find(word) {
                let at = from + pos;
                from = at + word.len();
                if is_word_start(file.code.as_bytes(), at) {
                    found.push(format!("{}: {word}", file.path));
                    break;
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "src/proxysql must stay pure:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_import_cycle_between_files() {
    let graph = file_graph(&load_sources());
    let cycles = strongly_connected(&graph);
    let described: Vec<String> = cycles.iter().map(|c| c.join(" <-> ")).collect();
    assert!(
        described.is_empty(),
        "import cycles:\n{}",
        described.join("\n")
    );
}

/// Tarjan's algorithm: every strongly connected component with more than one file.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

#[test]
fn the_checker_sees_a_grouped_upward_import() {
    let code = strip_comments_and_strings(
        "use crate::{proxysql::x, console::{tui::App, diagnosis}};\n// use crate::client::y;\nlet s = \"crate::client::z\";",
    );
    let paths = referenced_paths(&code);
    assert!(paths.contains(&vec![
        "crate".into(),
        "console".into(),
        "tui".into(),
        "App".into()
    ]));
    assert!(paths.contains(&vec!["crate".into(), "proxysql".into(), "x".into()]));
    assert!(
        !paths.iter().any(|p| p.iter().any(|s| s == "client")),
        "{paths:?}"
    );
}

#[test]
fn the_checker_skips_test_modules() {
    let (code, children) = strip_test_items(
        "use crate::a;\n#[cfg(test)]\nmod tests {\n use crate::b;\n fn f() { {} }\n}\n#[cfg(test)]\nmod fixtures;\nuse crate::c;",
    );
    assert!(code.contains("crate::a") && code.contains("crate::c"));
    assert!(!code.contains("crate::b"));
    assert_eq!(children, vec!["fixtures".to_string()]);
}

#[test]
fn tarjan_finds_a_two_file_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert(
        "b".to_string(),
        BTreeSet::from(["a".to_string(), "c".to_string()]),
    );
    graph.insert("c".to_string(), BTreeSet::new());
    assert_eq!(
        strongly_connected(&graph),
        vec![vec!["a".to_string(), "b".to_string()]]
    );
}
