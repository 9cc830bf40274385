//! The top-level modules of `src/` (a file `src/x.rs` or a folder `src/x/`) form no
//! circle: the graph their non-test code draws with `crate::x` paths (in `use` lines or
//! written out) is acyclic, the crate-wide error type aside (everything may name it).
//! A circle means two modules each need the other, so neither can be read, tested or
//! changed alone; the fix is to give the shared thing one owner below both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules every other may depend on without drawing an edge.
const EXEMPT: &[&str] = &["error"];

/// Files that hold no library code of a module.
const SKIPPED: &[&str] = &["lib.rs", "main.rs"];

#[test]
fn the_top_level_modules_form_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(graph.len() > 10, "modules found: {graph:?}");
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "top-level modules depend on each other in a circle: {}\nthe graph: {graph:#?}",
            circle.join(" -> ")
        );
    }
}

/// The checker itself sees a circle when there is one (a test that cannot fail is no
/// test).
#[test]
fn a_circle_is_found() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph.entry(from.into()).or_default().insert(to.into());
        graph.entry(to.into()).or_default();
    }
    let circle = find_circle(&graph).expect("a circle");
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 4, "{circle:?}");
    graph.get_mut("c").unwrap().remove("a");
    assert_eq!(find_circle(&graph), None);
    let text = "use crate::spool::Spool;\n// crate::home in a comment\n\
                let x = crate::wildmat::Wildmat::new(\"\");\n\
                #[cfg(test)]\nmod tests {\n use crate::relay;\n}\n";
    assert_eq!(
        named_modules(text),
        BTreeSet::from(["spool".to_string(), "wildmat".to_string()])
    );
}

/// Each top-level module and the top-level modules its non-test code names.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("read src/") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            files.insert(name, rust_files(&path));
        } else if let Some(module) = name.strip_suffix(".rs") {
            if !SKIPPED.contains(&name.as_str()) {
                files.insert(module.to_string(), vec![path]);
            }
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(module, paths)| {
            let mut uses = BTreeSet::new();
            for path in paths {
                // A file of tests (`mod tests;` beside the code) is test code.
                if path.file_name().is_some_and(|n| n == "tests.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(path).expect("read a source file");
                uses.extend(named_modules(&text));
            }
            uses.retain(|u| u != module && modules.contains(u) && !EXEMPT.contains(&u.as_str()));
            (module.clone(), uses)
        })
        .collect()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a module folder") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The top-level names `text` reaches through `crate::NAME`, outside comments and its
/// unit tests (the `#[cfg(test)] mod tests` at the end of a file).
fn named_modules(text: &str) -> BTreeSet<String> {
    let code = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at]);
    let mut names = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let line = line.split(" //").next().unwrap_or(line);
        for (at, _) in line.match_indices("crate::") {
            // `$crate::` in a macro names this crate too; `foo_crate::` does not.
            let before = line[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &line[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// A circle in `graph` (its first module repeated at the end), if any.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path.iter().position(|n| n == node).unwrap_or(0);
                let mut circle = path[from..].to_vec();
                circle.push(node.to_string());
                return Some(circle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, marks, path) {
                return Some(circle);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(circle);
        }
    }
    None
}
