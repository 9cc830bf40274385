//! Commands that work on this node alone: init, key, post, groups.

use std::io::{IsTerminal, Read};

use super::{GroupsArgs, InitArgs, KeyArgs, PostArgs};
use crate::article::is_valid_group_name;
use crate::compose::{compose_cancel, compose_with, Draft};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::ingest::{ingest, Rules, Verdict};
use crate::sign::public_key_text;

pub fn init(home: &Home, args: InitArgs) -> Result<()> {
    let name = args.name.unwrap_or_else(default_node_name);
    let node = home.init(&name, &args.listen)?;
    eprintln!(
        "initialised node {} in {} (listen {}); node key: {}",
        node.name(),
        home.dir().display(),
        node.config.node.listen,
        public_key_text(&home.node_key()?.verifying_key())
    );
    Ok(())
}

fn default_node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if host.is_empty() {
        "newsmesh".into()
    } else {
        host
    }
}

pub fn key(home: &Home, args: KeyArgs) -> Result<()> {
    if !home.config_path().exists() {
        return Err(Error::NoHome(home.dir().to_path_buf()));
    }
    let key = if args.node {
        home.node_key()?
    } else if args.generate {
        crate::home::check_author_name(&args.author)?;
        crate::sign::generate_secret(&home.author_key_path(&args.author))?
    } else {
        if !home.author_key_path(&args.author).exists() {
            crate::home::check_author_name(&args.author)?;
            return Err(Error::NotFound(format!(
                "no author identity {name:?} on this node ({} is missing); create it with \
                 `newsmesh key --author {name} --generate`",
                home.author_key_path(&args.author).display(),
                name = args.author
            )));
        }
        home.author_key(&args.author)?
    };
    println!("{}", public_key_text(&key.verifying_key()));
    Ok(())
}

pub fn post(home: &Home, args: PostArgs) -> Result<()> {
    let mut node = home.open()?;
    let key = home.author_key(&args.author)?;
    for group in args.group.split(',').map(str::trim) {
        if !is_valid_group_name(group) {
            return Err(Error::Invalid(format!(
                "{group:?} is not a valid newsgroup name"
            )));
        }
        // Groups are made deliberately: a typo must not create a group that would
        // spread mesh-wide.
        if node.spool.group(group)?.is_none() {
            let carried: Vec<String> = node
                .spool
                .carried_groups()?
                .into_iter()
                .map(|g| g.name)
                .collect();
            return Err(Error::Invalid(format!(
                "this node does not carry {group}; its groups: {} (create one with `newsmesh groups --add`)",
                carried.join(", ")
            )));
        }
    }
    // A CR or LF in a header value would end the header early and inject another one.
    for (what, value) in [
        ("--subject", Some(&args.subject)),
        ("--from", args.from.as_ref()),
        ("--references", args.references.as_ref()),
        ("--supersedes", args.supersedes.as_ref()),
    ] {
        if value.is_some_and(|v| v.contains(['\r', '\n'])) {
            return Err(Error::Invalid(format!(
                "{what} must be one line (it contains a line break)"
            )));
        }
    }
    // The rule every way of posting follows: a Subject with text (RFC 5536 §3.1.4
    // requires the header; an empty one is what an NNTP POST without it gets 441 for).
    if args.subject.trim().is_empty() {
        return Err(Error::Invalid(
            "--subject is empty; an article needs a subject".into(),
        ));
    }
    if args.subject.len() > MAX_SUBJECT {
        return Err(Error::Invalid(format!(
            "--subject is {} bytes long; at most {MAX_SUBJECT}",
            args.subject.len()
        )));
    }
    let body = read_body(&args, node.config.limits.max_article_bytes)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Invalid("empty body; nothing posted".into()));
    }
    // NEWSMESH_FROM= (set but empty) counts as unset, like NEWSMESH_HOME=.
    let from = args
        .from
        .clone()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| {
            let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
            format!("{user}@{}.invalid", node.name())
        });
    if let Some(target) = &args.supersedes {
        super::supersede::check_target(&node, target.trim(), &key)?;
    }
    let supersedes: Vec<(&str, &str)> = args
        .supersedes
        .iter()
        .map(|id| ("Supersedes", id.as_str()))
        .collect();
    let article = compose_with(
        &Draft {
            groups: &args.group,
            subject: &args.subject,
            from: &from,
            references: args.references.as_deref(),
            body: &body,
        },
        &supersedes,
        node.name(),
        &key,
    );
    store_own(&mut node, &article)
}

/// Stores an article composed here and prints its Message-ID alone on stdout.
pub(super) fn store_own(
    node: &mut crate::home::Node,
    article: &crate::article::Article,
) -> Result<()> {
    let raw = article.to_bytes();
    let rules = Rules::new(&node.config, &node.trust);
    let verdict = ingest(&mut node.spool, &rules, &[&raw])?;
    match verdict.first() {
        Some(Verdict::Stored(_)) => {
            println!("{}", article.message_id().unwrap_or_default());
            Ok(())
        }
        Some(Verdict::Refused(why)) | Some(Verdict::Deferred(why)) => {
            Err(Error::Refused(why.to_string()))
        }
        Some(Verdict::Duplicate) => Err(Error::Refused(
            "an identical article is already stored".into(),
        )),
        None => Err(Error::Refused("no verdict".into())),
    }
}

/// Longest subject `post` takes: a header line must stay under 998 octets (RFC 5322).
const MAX_SUBJECT: usize = 900;

fn read_body(args: &PostArgs, max_article: usize) -> Result<Vec<u8>> {
    if let Some(file) = &args.file {
        let size = std::fs::metadata(file)
            .map_err(|e| Error::io(file, e))?
            .len();
        if size > max_article as u64 {
            return Err(Error::Invalid(format!(
                "{} is {size} bytes: exceeds the limit of {max_article} bytes ([limits] max_article_bytes)",
                file.display()
            )));
        }
        return std::fs::read(file).map_err(|e| Error::io(file, e));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut body = Vec::new();
        stdin
            .lock()
            .read_to_end(&mut body)
            .map_err(|e| Error::io("<stdin>", e))?;
        return Ok(body);
    }
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .map_err(|_| {
            Error::Invalid("no body: use --file, pipe it on stdin, or set $EDITOR".into())
        })?;
    // Created exclusively (random name, mode 0600) in the shared temporary directory, so
    // another user can neither plant a symlink for us to write through nor read the
    // draft; removed when `draft` drops.
    let draft = tempfile::Builder::new()
        .prefix("newsmesh-post-")
        .suffix(".txt")
        .tempfile()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let tmp = draft.path().to_path_buf();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&tmp)
        .status()
        .map_err(|e| Error::io(&editor, e))?;
    // Editors may replace the file (write a new one and rename): read it by path.
    let body = std::fs::read(&tmp).map_err(|e| Error::io(&tmp, e));
    drop(draft);
    if !status.success() {
        return Err(Error::Invalid(format!(
            "{editor} exited with {status}; nothing posted"
        )));
    }
    body
}

pub fn groups(home: &Home, args: GroupsArgs) -> Result<()> {
    let mut node = home.open()?;
    if let Some(name) = args.add {
        if !is_valid_group_name(&name) {
            return Err(Error::Invalid(format!(
                "{name:?} is not a valid newsgroup name"
            )));
        }
        if crate::spool::is_internal_group(&name) {
            return Err(Error::Invalid(format!(
                "{name}: control.* names are the node's own, where control messages are filed"
            )));
        }
        if !node.trust.covers(&name) {
            return Err(Error::Invalid(format!(
                "no [[trust]] rule in {} covers {name}; add one first",
                home.config_path().display()
            )));
        }
        if !node.spool.create_group(&name, &args.description)? {
            return Err(Error::Invalid(format!("group {name} already exists")));
        }
        return Ok(());
    }
    for g in node.spool.carried_groups()? {
        println!("{} {} {} {}", g.name, g.count, g.low, g.high);
    }
    Ok(())
}

pub fn expire(home: &Home) -> Result<()> {
    let mut node = home.open()?;
    let now = crate::spool::now();
    let rules = node.config.expire.clone();
    let day = 86_400i64;
    let report = node.spool.expire(
        |group| rules.days_for(group).map(|d| now - d as i64 * day),
        now - rules.history_days as i64 * day,
    )?;
    // Quota usage of past days is no longer needed (quotas count today only).
    node.spool
        .prune_usage(crate::admission::quota::day_of(now) - 1)?;
    for (group, removed) in &report.groups {
        println!("group={group} expired={removed}");
    }
    println!(
        "articles_removed={} history_pruned={}",
        report.articles, report.history
    );
    Ok(())
}

pub fn cancel(home: &Home, target: &str, author: &str) -> Result<()> {
    let mut node = home.open()?;
    let key = home.author_key(author)?;
    let stored = node
        .spool
        .article(target)?
        .ok_or_else(|| Error::NotFound(format!("no article {target} on this node")))?;
    let original =
        crate::article::Article::parse(&stored.raw, &node.config.limits.article_limits())?;
    let groups = original.header_unfolded("Newsgroups").unwrap_or_default();
    let from = original.header_unfolded("From").unwrap_or_default();
    let article = compose_cancel(target, &groups, &from, node.name(), &key);
    store_own(&mut node, &article)
}

/// Posts a signed newgroup or rmgroup control message for `group`.
pub fn group_control(
    home: &Home,
    verb: &str,
    group: &str,
    description: &str,
    author: &str,
) -> Result<()> {
    if !is_valid_group_name(group) {
        return Err(Error::Invalid(format!(
            "{group:?} is not a valid newsgroup name"
        )));
    }
    if description.contains(['\r', '\n']) {
        return Err(Error::Invalid("--description must be one line".into()));
    }
    let mut node = home.open()?;
    let key = home.author_key(author)?;
    // Refused here, with the rule that would allow it, rather than by ingest below.
    if let Err(why) = node.trust.allows_control(group, &key.verifying_key()) {
        return Err(Error::Refused(format!(
            "{why}; to let this author key do it, add to {}: [[control]] groups = \"{group}\" \
             authors = [\"{}\"] (each on its own line)",
            home.config_path().display(),
            public_key_text(&key.verifying_key())
        )));
    }
    let subject = format!("cmsg {verb} {group}");
    let control = format!("{verb} {group}");
    let body = match verb {
        "newgroup" => {
            format!("{group} is created.\n\nFor your newsgroups file:\n{group}\t{description}\n")
        }
        _ => format!("{group} is removed.\n"),
    };
    let from = format!("{author}@{}.invalid", node.name());
    let draft = Draft {
        groups: group,
        subject: &subject,
        from: &from,
        references: None,
        body: body.as_bytes(),
    };
    let article = compose_with(&draft, &[("Control", &control)], node.name(), &key);
    store_own(&mut node, &article)
}
