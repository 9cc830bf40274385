//! `newsmesh read`: the groups, a group's articles as threads, or one article with its
//! signature status. Subjects and names posted as RFC 2047 encoded-words are shown
//! decoded (the article itself is never changed: its signature covers the raw form).

use std::collections::HashMap;
use std::io::Write;

use super::ReadArgs;
use crate::article::{body_to_local, rfc2047, Article};
use crate::error::{Error, Result};
use crate::home::{Home, Node};
use crate::spool::{Overview, StoredArticle};

pub fn run(home: &Home, args: ReadArgs) -> Result<()> {
    let node = home.open()?;
    match (args.target, args.number) {
        (None, _) => list_groups(&node),
        (Some(id), None) if id.starts_with('<') => match node.spool.article(&id)? {
            Some(stored) => show(&node, &stored),
            None => Err(Error::NotFound(super::gone::why_not_here(&node, &id)?)),
        },
        (Some(id), Some(_)) if id.starts_with('<') => Err(Error::Invalid(
            "give either a '<message-id>' or GROUP NUMBER".into(),
        )),
        (Some(group), None) => list_articles(&node, &group),
        (Some(group), Some(n)) => {
            let stored = node
                .spool
                .article_at(&group, n)?
                .ok_or_else(|| Error::NotFound(format!("no article {n} in {group}")))?;
            show(&node, &stored)
        }
    }
}

fn list_groups(node: &Node) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for g in node.spool.carried_groups()? {
        let _ = writeln!(out, "{:<40} {:>7} articles", g.name, g.count);
    }
    Ok(())
}

fn list_articles(node: &Node, group: &str) -> Result<()> {
    let info = node
        .spool
        .group(group)?
        .ok_or_else(|| Error::NotFound(format!("no group {group} on this node")))?;
    let rows = node.spool.overview(group, info.low, info.high)?;
    if rows.is_empty() {
        // On stderr: stdout stays the (empty) listing scripts read.
        eprintln!("{group} has no articles on this node yet");
    }
    let mut out = std::io::stdout().lock();
    for (depth, row) in threaded(&rows) {
        let date = chrono::DateTime::from_timestamp(row.posted, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "????-??-?? ??:??".into());
        let _ = writeln!(
            out,
            "{:>6}  {}  {:<24.24}  {}{}",
            row.number,
            date,
            rfc2047::decode(&row.author),
            "  ".repeat(depth.min(12)),
            rfc2047::decode(&row.subject)
        );
    }
    Ok(())
}

/// Orders overview rows as threads: each article under the last of its References that
/// is present, children in number order; returns (depth, row).
fn threaded(rows: &[Overview]) -> Vec<(usize, &Overview)> {
    let index: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.msgid.as_str(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut roots = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let parent = row
            .refs
            .split_whitespace()
            .rev()
            .find_map(|r| index.get(r).copied())
            .filter(|&p| p != i);
        match parent {
            Some(p) if p < i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|r| (0, r)).collect();
    while let Some((depth, i)) = stack.pop() {
        out.push((depth, &rows[i]));
        stack.extend(children[i].iter().rev().map(|&c| (depth + 1, c)));
    }
    out
}

/// Headers whose encoded-words are decoded for display: the human-readable ones
/// (RFC 2047 §5); identifiers, dates and group names are shown as they are.
const DECODED: &[&str] = &[
    "Subject",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Organization",
    "Summary",
    "Keywords",
    "Comments",
];

fn show(node: &Node, stored: &StoredArticle) -> Result<()> {
    let article = Article::parse(
        &stored.raw,
        &crate::article::Limits {
            max_article: usize::MAX,
            ..Default::default()
        },
    )?;
    let mut out = std::io::stdout().lock();
    let status = node.verdict(&article);
    // An unsigned article was not verified: the line must not say it was.
    let label = if status.starts_with("unsigned") {
        "Unverified"
    } else {
        "Verified"
    };
    let mut text = format!("{label}: {status}\n").into_bytes();
    for h in &article.headers {
        let value = if DECODED.iter().any(|d| h.name.eq_ignore_ascii_case(d)) {
            rfc2047::decode(&h.value).replace("\r\n", "\n")
        } else {
            h.value.replace("\r\n", "\n")
        };
        text.extend_from_slice(format!("{}: {value}\n", h.name).as_bytes());
    }
    text.push(b'\n');
    text.extend_from_slice(&body_to_local(&article.body));
    out.write_all(&text).map_err(|e| Error::io("<stdout>", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: i64, id: &str, refs: &str) -> Overview {
        Overview {
            number: n,
            subject: id.into(),
            author: String::new(),
            date: String::new(),
            posted: 0,
            msgid: id.into(),
            refs: refs.into(),
            bytes: 0,
            lines: 0,
            xref: String::new(),
        }
    }

    #[test]
    fn replies_sit_under_their_parents() {
        let rows = vec![
            row(1, "<a>", ""),
            row(2, "<b>", ""),
            row(3, "<c>", "<a>"),
            row(4, "<d>", "<a> <c>"),
            row(5, "<e>", "<gone> <b>"),
        ];
        let order: Vec<(usize, &str)> = threaded(&rows)
            .iter()
            .map(|(d, r)| (*d, r.msgid.as_str()))
            .collect();
        assert_eq!(
            order,
            [(0, "<a>"), (1, "<c>"), (2, "<d>"), (0, "<b>"), (1, "<e>")]
        );
    }
}
