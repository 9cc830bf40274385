//! The command line: clap definitions (also the source of `man/newsmesh.1`) and dispatch
//! to one small function per command.

mod gone;
mod governance;
mod local;
pub mod man;
mod peer;
mod peer_checks;
mod peer_edit;
mod pipe;
mod progress;
mod read;
mod simulate;
mod sneakernet;
mod supersede;
mod user;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Result;

use crate::home::Home;
/// A private, fully decentralized newsgroup mesh.
///
/// Every machine runs one node; nodes exchange signed articles with the neighbours they
/// name (IHAVE/SENDME over NNTP streaming), and every article reaches every node.
#[derive(Debug, Parser)]
#[command(name = "newsmesh", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    /// Node home directory [default: $NEWSMESH_HOME when set and not empty, else
    /// ~/.newsmesh].
    // NEWSMESH_HOME is read in `home()`, not by clap: clap refuses an empty value, so
    // `NEWSMESH_HOME=` (set but empty) would break every command, even with --home.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Exit codes, shown in --help and the man page.
pub const EXIT_CODES: &str = "Exit status: 0 success; 1 failure (one line on stderr says why); \
2 usage error; 3 another `sync` holds this node's lock.";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node: config, node key, default author key, spool with group mesh.test.
    Init(InitArgs),
    /// Print the author public key (or the node key with --node) on one line.
    Key(KeyArgs),
    /// Manage neighbours in newsmesh.toml (comments are kept).
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Manage newsreader users (AUTHINFO USER/PASS) in newsmesh.toml.
    #[command(subcommand)]
    User(UserCommand),
    /// Sign and post an article; prints its Message-ID alone on stdout.
    Post(PostArgs),
    /// Read: groups, a group's articles, or one article with its signature status.
    Read(ReadArgs),
    /// List the groups this node carries, or create one.
    Groups(GroupsArgs),
    /// Run the node's NNTP service (neighbours' syncs and newsreaders) in the foreground.
    ///
    /// Logs to stderr (RUST_LOG=debug for more); stops cleanly on SIGTERM or SIGINT.
    /// Reloads newsmesh.toml when it changes and on SIGHUP (see CONFIGURATION).
    Serve,
    /// Exchange articles both ways with every neighbour that has an address.
    ///
    /// Prints one line per dialled peer:
    /// `peer=NAME status=ok|failed sent=N received=N refused=N bytes=N ms=N tls=yes|no [error="..."]`.
    /// Exits 0 only when every dialled peer succeeded; 3 when another sync holds the lock.
    Sync(SyncArgs),
    /// Remove articles older than their group's retention ([[expire.rule]]) and prune old
    /// history; prints what it removed. Run it daily from cron.
    Expire,
    /// Write articles as an rnews batch (INN/UUCP format) for an air gap.
    ///
    /// With --to NAME only what arrived since the last export to NAME (and whose Path does
    /// not name it) is written, and the mark moves once the file is synced to disk.
    Export {
        /// The destination's name: export only what is new for it.
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
        /// Only articles in these groups (wildmat).
        #[arg(long, default_value = "*", value_name = "WILDMAT")]
        groups: String,
        /// Write to FILE instead of stdout.
        #[arg(long, short = 'f', value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Read an rnews batch (from `export`, or INN's batcher) and store what verifies.
    ///
    /// Prints `imported=N duplicates=N refused=N`; exits 1 when the batch is malformed
    /// (after storing the articles before the damage).
    Import {
        /// The batch file (default: stdin).
        file: Option<PathBuf>,
    },
    /// Create a group mesh-wide: posts a signed newgroup control message.
    ///
    /// Every node whose `[[control]]` rules trust this author key for the group creates it.
    Newgroup {
        /// The group.
        group: String,
        /// Its one-line description.
        #[arg(long, default_value = "")]
        description: String,
        /// Author identity to sign with.
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
    /// Remove a group mesh-wide: posts a signed rmgroup control message.
    Rmgroup {
        /// The group.
        group: String,
        /// Author identity to sign with.
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
    /// Withdraw an article you posted (a signed cancel; honoured only for its own author).
    ///
    /// Prints the cancel's Message-ID. The cancel travels through the mesh like an
    /// article; every node removes the target when the cancel is signed by the target's
    /// author key.
    Cancel {
        /// The article's `<message-id>` (quote it for the shell).
        message_id: String,
        /// Author identity to sign with (the one that posted it).
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
    /// Make groups members-only or open, mesh-wide (an admin's signed control article).
    ///
    /// Prints the control article's Message-ID. The node's author key must be an admin of
    /// every group of WILDMAT: listed by the `[[control]]` rule covering them. In a
    /// members-only group, every node refuses articles by keys that are not members.
    Policy {
        /// The groups: group names, NAME.* or *, comma-separated (e.g. club.*).
        wildmat: String,
        /// `members` (only member keys may post) or `open` (the local `[[trust]]` rules
        /// alone decide).
        #[arg(value_enum)]
        policy: PolicyWord,
        /// Author identity to sign with (an admin key).
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
    /// Grant or withdraw membership, or list the effective membership.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Name or drop a moderator: a key that may cancel any article in the groups.
    #[command(subcommand)]
    Moderator(ModeratorCommand),
    /// Revoke an author key in every hierarchy this node's author key administers.
    ///
    /// Prints the control article's Message-ID. A retired key's articles dated before the
    /// revocation stay valid; a compromised key's new articles are refused everywhere.
    /// With --cancel every node also withdraws the articles it posted there (and refuses
    /// late copies). Revocation is permanent.
    Revoke {
        /// The author key to revoke (`newsmesh key` on its node).
        author_key: String,
        /// Why: `retired` (its owner stopped using it) or `compromised` (someone else
        /// may hold it).
        #[arg(long, value_enum, default_value = "compromised")]
        reason: ReasonWord,
        /// Also withdraw every article the key posted in those groups, on every node.
        #[arg(long)]
        cancel: bool,
        /// Author identity to sign with (an admin key).
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
    /// Make an invite code for a newcomer (or withdraw one with --revoke CODE).
    ///
    /// Prints the code alone on one line: this node's address, its node key (the
    /// newcomer's first TLS handshake accepts only it), a random secret (stored here only
    /// hashed), the groups, and the `[[trust]]` and `[[control]]` rules for them (the
    /// admins and policy the newcomer will enforce). Hand it over privately: whoever holds
    /// it can join until it is used up, expires or is withdrawn. `serve` must be running
    /// here when the newcomer runs `newsmesh join`.
    Invite {
        /// The groups the two nodes will feed each other (a wildmat).
        #[arg(long, default_value = "*", value_name = "WILDMAT")]
        groups: String,
        /// How many newcomers may redeem it.
        #[arg(long, default_value_t = 1, value_name = "N")]
        uses: u32,
        /// How long it is valid: 30m, 12h, 7d...
        #[arg(long, default_value = "7d", value_name = "DURATION")]
        expires: String,
        /// Where newcomers reach this node, when `[node] listen` is a wildcard or behind a
        /// forwarded port.
        #[arg(long, value_name = "HOST:PORT")]
        address: Option<String>,
        /// Withdraw this invite code instead of making one.
        #[arg(long, value_name = "CODE", conflicts_with_all = ["groups", "uses", "expires", "address"])]
        revoke: Option<String>,
    },
    /// Join a mesh with an invite code (on a home made by `init`).
    ///
    /// Dials the inviter (accepting only the node key the code pins), proves the code's
    /// secret over TLS, and configures both sides: the inviter's running `serve` adds this
    /// node as a passive peer limited to the invite's groups; this node adds the inviter
    /// with its address and takes its `[[trust]]` and `[[control]]` rules for those
    /// groups. Then runs the first sync and prints its line. A used, expired, forged or
    /// damaged code exits 1 with one line and changes no configuration.
    Join {
        /// The code `newsmesh invite` printed.
        code: String,
    },
    /// Build a mesh of four nodes on 127.0.0.1, post, sync, read at the far end, and show
    /// a tampered article refused.
    Demo {
        /// Keep the nodes in DIR (default: a temporary directory, removed afterwards).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Simulate a mesh of N nodes in this process on a virtual clock: real spools and
    /// ingest, real relay decisions, a modelled transport. The last line gives the
    /// figures (key=value): converged=yes|no, bodies_per_node_per_article, ...
    ///
    /// Runs a random regular graph (or --topology), live relay and/or cron sync, node
    /// churn and a partition that heals; --svg draws the propagation. Uses no home.
    Simulate(simulate::SimulateArgs),
    /// Show how the node and each neighbour are doing: serve (pid, uptime, addresses),
    /// spool, per peer the last sync, totals and backlog, and recent refusals.
    ///
    /// Reads only what the node keeps (serve.state, the spool, news.log); asks no
    /// neighbour. With --json, one JSON object whose shape the man page documents (STATUS).
    Status {
        /// Print one JSON object, for monitoring.
        #[arg(long)]
        json: bool,
    },
}

/// `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this peer.
    #[arg(long, value_name = "NAME")]
    pub peer: Option<String>,
    /// Quiet: print only the lines of peers that failed (for cron), and no progress line
    /// (shown on a terminal only, like import's and export's).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// After each peer's line, one line per refused article:
    /// `refused id=<id> peer=NAME by=us|peer reason="..."`.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Compare the whole sets of articles with each neighbour (set reconciliation;
    /// a full listing with one that cannot), as on first contact.
    #[arg(long)]
    pub reconcile: bool,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The node's Path identity [default: the host name].
    #[arg(long)]
    pub name: Option<String>,
    /// Where `serve` accepts neighbours and newsreaders.
    #[arg(long, value_name = "HOST:PORT", default_value = crate::home::DEFAULT_LISTEN)]
    pub listen: String,
}

/// `key`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Print the node public key (what neighbours put in their `peer add`).
    #[arg(long, conflicts_with = "author")]
    pub node: bool,
    /// Author identity to print (created with --generate).
    #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
    pub author: String,
    /// Create the author identity NAME first (refuses to overwrite).
    #[arg(long, requires = "author")]
    pub generate: bool,
}

/// `peer ...`.
#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Add a neighbour. Without --address it is passive: it dials us, we never dial it.
    ///
    /// With --nntp it is a plain news server such as INN (`[[nntp_peer]]`): it has no node
    /// key, `sync` feeds it at --address, and it may feed us from the --hosts addresses.
    /// NAME must then be its Path identity (INN's `pathhost`), so what it has is not
    /// offered back to it.
    Add {
        /// The neighbour's Path identity (its `[node]` name, or a news server's pathhost).
        name: String,
        /// Its node public key (`newsmesh key --node` there); none with --nntp.
        #[arg(required_unless_present = "nntp", conflicts_with = "nntp")]
        node_key: Option<String>,
        /// Where its `serve` (or the news server) listens.
        #[arg(long, value_name = "HOST:PORT")]
        address: Option<String>,
        /// Groups it gets from us (wildmat).
        #[arg(long, default_value = "*", value_name = "WILDMAT")]
        groups: String,
        /// A plain news server (INN...) that cannot prove a node key: an `[[nntp_peer]]`.
        #[arg(long)]
        nntp: bool,
        /// With --nntp: IP addresses it may feed us from (comma-separated).
        #[arg(
            long,
            value_name = "IP,...",
            value_delimiter = ',',
            conflicts_with = "node_key"
        )]
        hosts: Vec<std::net::IpAddr>,
        /// The link runs without TLS (`tls = false`): only for an older node that cannot
        /// speak it; anyone on the path can then read the link.
        #[arg(long, conflicts_with = "nntp")]
        no_tls: bool,
        /// No live relay to it (`live = false`, e.g. a metered link): it gets what is new
        /// only when `sync` runs, not the moment `serve` stores it.
        #[arg(long, conflicts_with = "nntp")]
        no_live: bool,
    },
    /// Change a neighbour in place (its place and comments in newsmesh.toml are kept):
    /// only the options given change.
    Edit(PeerEditArgs),
    /// List neighbours, one per line: name, address (or "passive"), groups, key; a plain
    /// news server shows `nntp hosts=IP,...` (or `hosts=none`) in place of the key.
    List,
    /// Remove a neighbour (either kind).
    Remove {
        /// Its name.
        name: String,
    },
}

/// A governance policy word.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PolicyWord {
    /// Only member keys may post.
    Members,
    /// The local `[[trust]]` rules alone decide.
    Open,
}

/// Why a key is revoked.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReasonWord {
    /// Its owner stopped using it: its past articles stay valid.
    Retired,
    /// Someone else may hold it: all its new articles are refused.
    Compromised,
}

/// `moderator ...`.
#[derive(Debug, Subcommand)]
pub enum ModeratorCommand {
    /// Name a moderator of groups, mesh-wide: every node then honours its cancels of any
    /// article there (an admin's signed control article). Prints its Message-ID.
    Add {
        /// The groups: group names, NAME.* or *, comma-separated.
        wildmat: String,
        /// The moderator's author key.
        author_key: String,
        /// Author identity to sign with (an admin key).
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
    /// Drop a moderator of groups, mesh-wide. Prints the control article's Message-ID.
    Remove {
        /// The groups: group names, NAME.* or *, comma-separated.
        wildmat: String,
        /// The moderator's author key.
        author_key: String,
        /// Author identity to sign with (an admin key).
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
}

/// `member ...`.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Make an author key a member of groups, mesh-wide (an admin's signed control
    /// article). Prints its Message-ID.
    Add {
        /// The groups: group names, NAME.* or *, comma-separated.
        wildmat: String,
        /// The member's author key (`newsmesh key` on its node).
        author_key: String,
        /// Author identity to sign with (an admin key).
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
    /// Withdraw an author key's membership of groups, mesh-wide. Prints the control
    /// article's Message-ID.
    Remove {
        /// The groups: group names, NAME.* or *, comma-separated.
        wildmat: String,
        /// The member's author key.
        author_key: String,
        /// Author identity to sign with (an admin key).
        #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
        author: String,
    },
    /// Show the effective membership, one fact a line in key=value form, each saying
    /// where it came from: `groups=G policy=members|open from=<id>`, `groups=G key=K
    /// from=<id> by=ADMIN` (a grant in force), `groups=G moderator=K from=<id> by=ADMIN`,
    /// `groups=G key=K revoked=REASON from=<id> by=ADMIN`, `groups=G key=K from=config` (a local `[[trust]]` key list: a node
    /// narrows the mesh's membership with these, never widens it).
    List {
        /// Only facts about these groups.
        wildmat: Option<String>,
    },
}

/// `peer edit`.
#[derive(Debug, Args)]
pub struct PeerEditArgs {
    /// The neighbour's name now.
    pub name: String,
    /// Its new name (the Path identity it calls itself).
    #[arg(long = "name", value_name = "NEW")]
    pub rename: Option<String>,
    /// Its node public key (a newsmesh node only).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Where its `serve` (or the news server) listens.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "passive")]
    pub address: Option<String>,
    /// Remove its address: it dials us, we never dial it.
    #[arg(long)]
    pub passive: bool,
    /// Groups it gets from us (wildmat).
    #[arg(long, value_name = "WILDMAT")]
    pub groups: Option<String>,
    /// A news server's addresses it may feed us from (comma-separated; replaces the list).
    #[arg(long, value_name = "IP,...", value_delimiter = ',')]
    pub hosts: Option<Vec<std::net::IpAddr>>,
    /// TLS on the link (a newsmesh node only): true or false.
    #[arg(long, value_name = "BOOL")]
    pub tls: Option<bool>,
    /// Live relay to it (a newsmesh node only): true or false.
    #[arg(long, value_name = "BOOL")]
    pub live: Option<bool>,
}

/// `user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user: reads the password from stdin (first line; asked without echo on a
    /// terminal), creates the author key authors/NAME.key (or reuses it) and appends a
    /// `[[user]]` entry with its Argon2id hash. Prints the user's author public key.
    /// Passwords have at least 8 characters.
    Add {
        /// The AUTHINFO user name (letters, digits, '.', '-', '_').
        name: String,
    },
    /// List users, one per line: name and author key file.
    List,
    /// Remove a user (its author key file is kept).
    Remove {
        /// Its name.
        name: String,
    },
}

/// `post`.
#[derive(Debug, Args)]
pub struct PostArgs {
    /// Newsgroup(s), comma-separated.
    #[arg(long, short = 'g')]
    pub group: String,
    /// Subject line.
    #[arg(long, short = 's')]
    pub subject: String,
    /// Read the body from FILE (default: stdin when it is not a terminal, else $EDITOR).
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
    /// The From header (default: `$USER@NODE.invalid`).
    #[arg(long, env = "NEWSMESH_FROM")]
    pub from: Option<String>,
    /// Message-ID(s) this follows up (References).
    #[arg(long, value_name = "MESSAGE-ID")]
    pub references: Option<String>,
    /// Replace an earlier article of yours (Supersedes): it is withdrawn everywhere. Refused
    /// (nothing posted) unless this node has it, signed by the --author key.
    #[arg(long, value_name = "MESSAGE-ID")]
    pub supersedes: Option<String>,
    /// Author identity to sign with.
    #[arg(long, default_value = crate::home::DEFAULT_AUTHOR, value_name = "NAME")]
    pub author: String,
}

/// `read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// A group name, or a `<message-id>` (quote it for the shell).
    pub target: Option<String>,
    /// An article number in GROUP.
    pub number: Option<i64>,
}

/// `groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// Create this group (the trust policy must cover it).
    #[arg(long, value_name = "GROUP")]
    pub add: Option<String>,
    /// Description for --add.
    #[arg(long, default_value = "", requires = "add")]
    pub description: String,
}

impl Cli {
    /// The node home chosen by --home, NEWSMESH_HOME (an empty value counts as unset,
    /// as shells and cron leave it) or the default.
    pub fn home(&self) -> Home {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = self
            .home
            .clone()
            .or_else(|| env("NEWSMESH_HOME").map(PathBuf::from))
            .unwrap_or_else(|| {
                env("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("."))
                    .join(".newsmesh")
            });
        Home::new(dir)
    }
}

fn sync(home: &Home, args: SyncArgs) -> Result<()> {
    // Before the lock, whose file would otherwise be the first thing found missing.
    if !home.config_path().exists() {
        return Err(crate::Error::NoHome(home.dir().to_path_buf()));
    }
    let mut progress = progress::Progress::new(args.quiet);
    let reports = crate::sync::sync_all_reconciling(
        home,
        args.peer.as_deref(),
        args.reconcile,
        &mut |i, n, peer| {
            progress.show(|| format!("sync: {peer} ({i} of {n})..."), true);
        },
    )?;
    progress.done();
    // Every link is closed: from here on only stdout is written.
    pipe::end_quietly_on_closed_stdout();
    if reports.is_empty() && !args.quiet {
        eprintln!(
            "no neighbour to dial: none has an address (`newsmesh peer list`; passive ones              dial us); nothing exchanged"
        );
    }
    let failed = reports.iter().filter(|r| !r.outcome.ok()).count();
    for report in &reports {
        if !args.quiet || !report.outcome.ok() {
            println!("{report}");
            if args.verbose {
                for line in report.refusal_lines() {
                    println!("{line}");
                }
            }
        }
    }
    if failed > 0 {
        return Err(crate::Error::Peer(format!(
            "{failed} of {} peer(s) failed",
            reports.len()
        )));
    }
    Ok(())
}

fn status(home: &Home, json: bool) -> Result<()> {
    let status = crate::status::gather(home)?;
    if json {
        println!("{}", status.to_json()?);
    } else {
        print!("{status}");
    }
    Ok(())
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if pipe::writes_to_no_socket(&cli.command) {
        pipe::end_quietly_on_closed_stdout();
    }
    let home = cli.home();
    match cli.command {
        Command::Init(args) => local::init(&home, args),
        Command::Key(args) => local::key(&home, args),
        Command::Peer(cmd) => peer::run(&home, cmd),
        Command::User(cmd) => user::run(&home, cmd),
        Command::Post(args) => local::post(&home, args),
        Command::Read(args) => read::run(&home, args),
        Command::Groups(args) => local::groups(&home, args),
        Command::Serve => crate::server::serve_forever(&home),
        Command::Sync(args) => sync(&home, args),
        Command::Expire => local::expire(&home),
        Command::Newgroup {
            group,
            description,
            author,
        } => local::group_control(&home, "newgroup", &group, &description, &author),
        Command::Rmgroup { group, author } => {
            local::group_control(&home, "rmgroup", &group, "", &author)
        }
        Command::Export { to, groups, file } => sneakernet::export(&home, to, &groups, file),
        Command::Import { file } => sneakernet::import(&home, file),
        Command::Cancel { message_id, author } => local::cancel(&home, &message_id, &author),
        Command::Policy {
            wildmat,
            policy,
            author,
        } => governance::policy(
            &home,
            &wildmat,
            matches!(policy, PolicyWord::Members),
            &author,
        ),
        Command::Member(cmd) => match cmd {
            MemberCommand::Add {
                wildmat,
                author_key,
                author,
            } => governance::member(&home, true, &wildmat, &author_key, &author),
            MemberCommand::Remove {
                wildmat,
                author_key,
                author,
            } => governance::member(&home, false, &wildmat, &author_key, &author),
            MemberCommand::List { wildmat } => governance::list(&home, wildmat.as_deref()),
        },
        Command::Moderator(cmd) => {
            let (add, wildmat, key, author) = match cmd {
                ModeratorCommand::Add {
                    wildmat,
                    author_key,
                    author,
                } => (true, wildmat, author_key, author),
                ModeratorCommand::Remove {
                    wildmat,
                    author_key,
                    author,
                } => (false, wildmat, author_key, author),
            };
            governance::moderator(&home, add, &wildmat, &key, &author)
        }
        Command::Revoke {
            author_key,
            reason,
            cancel,
            author,
        } => {
            let reason = match reason {
                ReasonWord::Retired => crate::governance::Reason::Retired,
                ReasonWord::Compromised => crate::governance::Reason::Compromised,
            };
            governance::revoke(&home, &author_key, reason, cancel, &author)
        }
        Command::Invite {
            groups,
            uses,
            expires,
            address,
            revoke,
        } => match revoke {
            Some(code) => crate::invite::make::revoke(&home, &code),
            None => {
                let options = crate::invite::make::Options {
                    groups,
                    uses,
                    expires_secs: crate::invite::make::parse_duration(&expires)?,
                    address,
                };
                println!("{}", crate::invite::make::make(&home, &options)?);
                Ok(())
            }
        },
        Command::Join { code } => {
            let reports = crate::invite::join::join(&home, &code)?;
            for report in &reports {
                println!("{report}");
            }
            if reports.iter().any(|r| !r.outcome.ok()) {
                return Err(crate::Error::Peer(
                    "joined, but the first sync failed: `newsmesh sync` will retry".into(),
                ));
            }
            Ok(())
        }
        Command::Demo { dir } => {
            if cli.home.is_some() {
                return Err(crate::Error::Invalid(
                    "demo builds its own nodes and uses no home: leave out --home \
                     (--dir DIR keeps the demo's nodes)"
                        .into(),
                ));
            }
            crate::demo::run(dir.as_deref())
        }
        Command::Simulate(args) => {
            if cli.home.is_some() {
                return Err(crate::Error::Invalid(
                    "simulate builds its own nodes and uses no home: leave out --home".into(),
                ));
            }
            simulate::simulate(&args)
        }
        Command::Status { json } => status(&home, json),
    }
}
