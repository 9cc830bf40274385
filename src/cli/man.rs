//! `man/newsmesh.1`, generated from the clap definitions (so options never drift from
//! `--help`) plus the hand-written sections in `man_sections.roff`. The test below keeps
//! the committed page in step: `NEWSMESH_BLESS=1 cargo test man_page` rewrites it.

use clap::CommandFactory;

use super::Cli;

/// Hand-written sections: files, configuration, sync output, exit status, examples.
const SECTIONS: &str = include_str!("man_sections.roff");

/// Renders the whole page.
pub fn render() -> String {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    out.extend_from_slice(synopsis(&man).as_bytes());
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        render_subcommand(&mut out, sub, "newsmesh");
    }
    out.extend_from_slice(SECTIONS.as_bytes());
    let _ = man.render_version_section(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// clap_mangen's SYNOPSIS, with the value each global option takes (it shows
/// `[--home]` where the option is `--home <DIR>`).
fn synopsis(man: &clap_mangen::Man) -> String {
    let mut raw = Vec::new();
    let _ = man.render_synopsis_section(&mut raw);
    let mut text = String::from_utf8_lossy(&raw).into_owned();
    for arg in Cli::command().get_arguments() {
        let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) else {
            continue;
        };
        let long = escape(long);
        let bare = format!("[\\fB\\-\\-{long}\\fR]");
        let values: Vec<String> = names.iter().map(|n| escape(n)).collect();
        let with = format!("[\\fB\\-\\-{long}\\fR \\fI{}\\fR]", values.join(" "));
        text = text.replace(&bare, &with);
    }
    text
}

fn render_subcommand(out: &mut Vec<u8>, sub: &clap::Command, parent: &str) {
    let name = format!("{parent} {}", sub.get_name());
    if sub.has_subcommands() {
        for inner in sub.get_subcommands() {
            render_subcommand(out, inner, &name);
        }
        return;
    }
    let usage = sub.clone().bin_name(&name).render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ");
    out.extend_from_slice(format!(".SS \"{}\"\n", escape(usage)).as_bytes());
    let about = sub
        .get_long_about()
        .or(sub.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    for para in about.split("\n\n") {
        out.extend_from_slice(format!(".PP\n{}\n", escape(para)).as_bytes());
    }
    for arg in sub
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
    {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("\\-{s}, \\-\\-{l}"),
            (None, Some(l)) => format!("\\-\\-{l}"),
            (Some(s), None) => format!("\\-{s}"),
            (None, None) => arg.get_id().to_string().to_uppercase(),
        };
        let value = match arg.get_value_names() {
            Some(names) if arg.get_long().is_some() && arg.get_action().takes_values() => {
                format!(
                    " {}",
                    names
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
            _ => String::new(),
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let default = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        let mut default = if default.is_empty() || default == [""] {
            String::new()
        } else {
            format!(" [default: {}]", default.join(","))
        };
        if let Some(env) = arg.get_env() {
            default.push_str(&format!(" [env: {}]", env.to_string_lossy()));
        }
        out.extend_from_slice(
            format!(
                ".TP\n\\fB{flag}\\fR{}\n{}{}\n",
                escape(&value),
                escape(&help),
                escape(&default)
            )
            .as_bytes(),
        );
    }
}

fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    text.lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn man_page_is_in_step_with_the_cli() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1");
        let page = super::render();
        if std::env::var_os("NEWSMESH_BLESS").is_some() {
            std::fs::write(path, &page).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == page,
            "man/newsmesh.1 is out of date: run NEWSMESH_BLESS=1 cargo test man_page"
        );
        for command in [
            "init", "key", "peer add", "post", "read", "serve", "sync", "demo",
        ] {
            assert!(
                page.contains(&format!("newsmesh {command}")),
                "{command} missing"
            );
        }
    }
}
