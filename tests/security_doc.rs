//! SECURITY.md, the man page and `config.example.toml` document every `[limits]` key with
//! its default; these tests hold them to the code, so a key added to `LimitsConfig` (or a
//! default changed there) fails here, naming the key, until the documents say so too.
//!
//! The code's keys and defaults come from `LimitsConfig::default()` itself: its `Debug`
//! form names every field and value, and each documented default is read back through
//! the real TOML deserializer (which refuses unknown keys) and compared with it.

use std::collections::BTreeMap;
use std::path::Path;

use newsmesh::config::LimitsConfig;

/// Reads a file at the root of the repository.
fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Splits `text` at the commas that are not nested in brackets or quotes.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quoted => {
                chars.next();
            }
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// The code's `[limits]` keys, each with its default as `Debug` prints it.
fn code_defaults() -> BTreeMap<String, String> {
    let debug = format!("{:?}", LimitsConfig::default());
    let inner = debug
        .strip_prefix("LimitsConfig {")
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or_else(|| panic!("unexpected Debug form of LimitsConfig: {debug}"));
    split_top_level(inner)
        .into_iter()
        .map(|field| {
            let (name, value) = field
                .split_once(": ")
                .unwrap_or_else(|| panic!("unexpected field in LimitsConfig's Debug: {field}"));
            (name.trim().to_string(), value.trim().to_string())
        })
        .collect()
}

/// The key and the documented default (TOML text) of each row of SECURITY.md's
/// `[limits]` table: the table that follows the heading naming `[limits]`, one row a
/// key, "| `key` | `default` ... | what it defends |".
fn documented_defaults() -> Vec<(String, String)> {
    let doc = repo_file("SECURITY.md");
    let section = doc
        .split("\n## ")
        .find(|s| s.lines().next().is_some_and(|h| h.contains("`[limits]`")))
        .expect("SECURITY.md has a section whose heading names `[limits]`");
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let key = cells[1].trim_matches('`').to_string();
        let default = cells
            .get(2)
            .and_then(|c| c.split('`').nth(1))
            .unwrap_or_else(|| panic!("SECURITY.md row for `{key}`: no `default` in column 2"))
            .to_string();
        rows.push((key, default));
    }
    rows
}

/// `LimitsConfig` read from a `[limits]` table text, as `newsmesh.toml` would be.
fn parse_limits(text: &str) -> Result<LimitsConfig, String> {
    toml::from_str::<LimitsConfig>(text).map_err(|e| e.to_string())
}

#[test]
fn security_md_lists_every_limit() {
    let documented: Vec<String> = documented_defaults().into_iter().map(|r| r.0).collect();
    for (key, default) in code_defaults() {
        assert!(
            documented.contains(&key),
            "SECURITY.md's [limits] table has no row for `{key}` (default {default} in \
             LimitsConfig::default()): add a row with its default and what it defends"
        );
    }
}

#[test]
fn security_md_defaults_are_the_codes() {
    let defaults = format!("{:?}", LimitsConfig::default());
    let code = code_defaults();
    let rows = documented_defaults();
    assert!(!rows.is_empty(), "SECURITY.md's [limits] table has no rows");
    for (key, default) in rows {
        let parsed = parse_limits(&format!("{key} = {default}")).unwrap_or_else(|e| {
            panic!("SECURITY.md's [limits] row `{key} = {default}` is not a valid limit: {e}")
        });
        assert!(
            format!("{parsed:?}") == defaults,
            "SECURITY.md says `{key}` defaults to {default}; LimitsConfig::default() has {}",
            code.get(&key).map_or("no such key", String::as_str)
        );
    }
}

#[test]
fn man_page_lists_every_limit() {
    let roff = repo_file("src/cli/man_sections.roff");
    for key in code_defaults().into_keys() {
        assert!(
            roff.contains(&format!("\\fB{key}\\fR")),
            "src/cli/man_sections.roff's [limits] list lacks \\fB{key}\\fR (then run \
             NEWSMESH_BLESS=1 cargo test man_page)"
        );
    }
}

#[test]
fn example_config_sets_every_limit_to_its_default() {
    let example: toml::Table = toml::from_str(&repo_file("config.example.toml"))
        .unwrap_or_else(|e| panic!("config.example.toml: {e}"));
    let limits = example
        .get("limits")
        .and_then(toml::Value::as_table)
        .expect("config.example.toml has a [limits] table");
    let defaults = format!("{:?}", LimitsConfig::default());
    for (key, default) in code_defaults() {
        let value = limits.get(&key).unwrap_or_else(|| {
            panic!("config.example.toml's [limits] lacks `{key}` (default {default})")
        });
        let parsed = parse_limits(&format!("{key} = {value}"))
            .unwrap_or_else(|e| panic!("config.example.toml `{key} = {value}`: {e}"));
        assert!(
            format!("{parsed:?}") == defaults,
            "config.example.toml sets `{key} = {value}`; LimitsConfig::default() has {default}"
        );
    }
}

#[test]
fn the_table_reader_sees_through_nesting() {
    assert_eq!(
        split_top_level(r#"a: 1, b: Some((2, 3)), c: "x, \"y\"", d: [4, 5]"#),
        vec!["a: 1", "b: Some((2, 3))", r#"c: "x, \"y\"""#, "d: [4, 5]"]
    );
}
