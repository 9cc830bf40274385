//! Reading from the spool: articles by Message-ID or by group and number, groups,
//! overview rows, history, and arrivals after a sequence number (what sync offers).

use rusqlite::{params, OptionalExtension, Row};

use super::{Spool, SpoolError};

/// A stored article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArticle {
    /// Arrival sequence.
    pub seq: i64,
    /// Message-ID.
    pub msgid: String,
    /// Wire form.
    pub raw: Vec<u8>,
}

/// A group and its numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// Name.
    pub name: String,
    /// Lowest article number present (high + 1 when empty would be RFC style; we report low as stored).
    pub low: i64,
    /// Highest number ever assigned.
    pub high: i64,
    /// Articles present.
    pub count: i64,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Description (LIST NEWSGROUPS).
    pub description: String,
}

/// Overview fields (RFC 3977 §8.3) of one article in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Article number in the group.
    pub number: i64,
    /// Subject.
    pub subject: String,
    /// From.
    pub author: String,
    /// Date.
    pub date: String,
    /// Date, Unix seconds.
    pub posted: i64,
    /// Message-ID.
    pub msgid: String,
    /// References.
    pub refs: String,
    /// Size in octets.
    pub bytes: i64,
    /// Body lines.
    pub lines: i64,
    /// Where it is filed here: `group:number` pairs separated by spaces (for Xref).
    pub xref: String,
}

/// One arrival: what sync offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Arrival sequence.
    pub seq: i64,
    /// Message-ID.
    pub msgid: String,
    /// Path as stored.
    pub path: String,
    /// Newsgroups (comma-separated).
    pub newsgroups: String,
    /// The neighbour that delivered it (None: made here, imported, or stored before
    /// schema 7 recorded it).
    pub delivered_by: Option<String>,
    /// Its Date as Unix seconds (0: unparseable), for the age window.
    pub posted: i64,
    /// Its Control header when it is a governance article this node recorded (its scope
    /// says which neighbours need it, whatever groups it is filed in here).
    pub governance: Option<String>,
}

/// The Xref pairs of article `a`, as an overview column.
const XREF_COLUMN: &str = "COALESCE((SELECT GROUP_CONCAT(x.grp || ':' || x.num, ' ')
                                      FROM group_articles x WHERE x.seq = a.seq), '')";

/// Maps `number, subject, author, date, posted, msgid, refs, bytes, lines, xref`.
fn overview_row(r: &Row<'_>) -> rusqlite::Result<Overview> {
    Ok(Overview {
        number: r.get(0)?,
        subject: r.get(1)?,
        author: r.get(2)?,
        date: r.get(3)?,
        posted: r.get(4)?,
        msgid: r.get(5)?,
        refs: r.get(6)?,
        bytes: r.get(7)?,
        lines: r.get(8)?,
        xref: r.get(9)?,
    })
}

fn group_row(r: &Row<'_>) -> rusqlite::Result<GroupInfo> {
    Ok(GroupInfo {
        name: r.get(0)?,
        low: r.get(1)?,
        high: r.get(2)?,
        count: r.get(3)?,
        created: r.get(4)?,
        description: r.get(5)?,
    })
}

const GROUP_COLUMNS: &str = "name, low, high, count, created, description";

impl Spool {
    /// The article with this Message-ID, if stored.
    pub fn article(&self, msgid: &str) -> Result<Option<StoredArticle>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT a.seq, a.msgid, a.raw FROM history h JOIN articles a ON a.seq = h.seq
                 WHERE h.msgid = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![msgid], |r| {
                    Ok(StoredArticle {
                        seq: r.get(0)?,
                        msgid: r.get(1)?,
                        raw: r.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// The article numbered `number` in `group`.
    pub fn article_at(
        &self,
        group: &str,
        number: i64,
    ) -> Result<Option<StoredArticle>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT a.seq, a.msgid, a.raw FROM group_articles g JOIN articles a ON a.seq = g.seq
                 WHERE g.grp = ?1 AND g.num = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![group, number], |r| {
                    Ok(StoredArticle {
                        seq: r.get(0)?,
                        msgid: r.get(1)?,
                        raw: r.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Whether the Message-ID is in history as stored, refused or expired: not wanted
    /// again. An id only marked by a cancel that came first is not "seen": that cancel
    /// binds the article only if it turns out to be by the same author.
    pub fn seen(&self, msgid: &str) -> Result<bool, SpoolError> {
        Ok(self
            .history(msgid)?
            .is_some_and(|(status, _)| status != "cancelled"))
    }

    /// History status and reason of a Message-ID.
    pub fn history(&self, msgid: &str) -> Result<Option<(String, String)>, SpoolError> {
        self.conn
            .prepare_cached("SELECT status, reason FROM history WHERE msgid = ?1")
            .and_then(|mut s| {
                s.query_row(params![msgid], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// History status, reason and first-seen time (Unix seconds) of a Message-ID: what
    /// `read` says of an article that is not (or no longer) here.
    pub fn history_seen(&self, msgid: &str) -> Result<Option<(String, String, i64)>, SpoolError> {
        self.conn
            .prepare_cached("SELECT status, reason, seen FROM history WHERE msgid = ?1")
            .and_then(|mut s| {
                s.query_row(params![msgid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// One group.
    pub fn group(&self, name: &str) -> Result<Option<GroupInfo>, SpoolError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS} FROM groups WHERE name = ?1"
            ))
            .and_then(|mut s| s.query_row(params![name], group_row).optional())
            .map_err(|e| self.err(e))
    }

    /// All groups, by name.
    pub fn groups(&self) -> Result<Vec<GroupInfo>, SpoolError> {
        self.conn
            .prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM groups ORDER BY name"))
            .and_then(|mut s| s.query_map([], group_row)?.collect())
            .map_err(|e| self.err(e))
    }

    /// The groups operators and readers see (`groups`, `read`, LIST, NEWGROUPS): all but
    /// the internal `control.*` pseudo-groups, which only file control messages (cancels,
    /// newgroups, rmgroups) so that they relay and expire like articles.
    pub fn carried_groups(&self) -> Result<Vec<GroupInfo>, SpoolError> {
        let mut groups = self.groups()?;
        groups.retain(|g| !is_internal_group(&g.name));
        Ok(groups)
    }

    /// Article numbers present in `group` between `from` and `to` inclusive.
    pub fn numbers(&self, group: &str, from: i64, to: i64) -> Result<Vec<i64>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT num FROM group_articles WHERE grp = ?1 AND num BETWEEN ?2 AND ?3 ORDER BY num",
            )
            .and_then(|mut s| s.query_map(params![group, from, to], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))
    }

    /// Overview rows of `group` between `from` and `to` inclusive, by number: an index
    /// range scan, no article is parsed.
    pub fn overview(&self, group: &str, from: i64, to: i64) -> Result<Vec<Overview>, SpoolError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT g.num, a.subject, a.author, a.date, a.posted, a.msgid, a.refs, a.bytes, a.lines,
                        CASE WHEN instr(a.newsgroups, ',') = 0 THEN g.grp || ':' || g.num
                             ELSE {XREF_COLUMN} END
                 FROM group_articles g JOIN articles a ON a.seq = g.seq
                 WHERE g.grp = ?1 AND g.num BETWEEN ?2 AND ?3 ORDER BY g.num"
            ))
            .and_then(|mut s| {
                s.query_map(params![group, from, to], overview_row)?
                .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// The number of a stored article in `group`.
    pub fn number_in(&self, group: &str, msgid: &str) -> Result<Option<i64>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT g.num FROM history h JOIN group_articles g ON g.seq = h.seq
                 WHERE g.grp = ?1 AND h.msgid = ?2",
            )
            .and_then(|mut s| s.query_row(params![group, msgid], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// The first article of `group` numbered above `after`: (number, Message-ID). NEXT and
    /// GROUP; one index probe.
    pub fn next_in(&self, group: &str, after: i64) -> Result<Option<(i64, String)>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT g.num, a.msgid FROM group_articles g JOIN articles a ON a.seq = g.seq
                 WHERE g.grp = ?1 AND g.num > ?2 ORDER BY g.num LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![group, after], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// The last article of `group` numbered below `before`: (number, Message-ID). LAST;
    /// one index probe.
    pub fn prev_in(&self, group: &str, before: i64) -> Result<Option<(i64, String)>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT g.num, a.msgid FROM group_articles g JOIN articles a ON a.seq = g.seq
                 WHERE g.grp = ?1 AND g.num < ?2 ORDER BY g.num DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![group, before], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Overview fields of the article with this Message-ID (`number` is 0): OVER and HDR
    /// by Message-ID, from the indexed columns, no article is parsed.
    pub fn overview_of(&self, msgid: &str) -> Result<Option<Overview>, SpoolError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT 0, a.subject, a.author, a.date, a.posted, a.msgid, a.refs, a.bytes, a.lines,
                        {XREF_COLUMN}
                 FROM history h JOIN articles a ON a.seq = h.seq WHERE h.msgid = ?1"
            ))
            .and_then(|mut s| s.query_row(params![msgid], overview_row).optional())
            .map_err(|e| self.err(e))
    }

    /// Up to `limit` arrivals with a sequence above `after`, in order.
    pub fn arrivals_since(&self, after: i64, limit: usize) -> Result<Vec<Arrival>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT a.seq, a.msgid, a.path, a.newsgroups, a.delivered_by, a.posted,
                        g.control
                 FROM articles a LEFT JOIN governance g ON g.msgid = a.msgid
                 WHERE a.seq > ?1 ORDER BY a.seq LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![after, limit as i64], arrival)?
                    .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// The highest arrival sequence used so far (0 for an empty spool).
    pub fn last_seq(&self) -> Result<i64, SpoolError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM articles", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// The first arrival sequence of the articles that arrived at or after `since` (Unix
    /// seconds), if any: where NEWNEWS starts (found on the `arrived` index).
    pub fn first_arrival_since(&self, since: i64) -> Result<Option<i64>, SpoolError> {
        self.conn
            .query_row(
                "SELECT MIN(seq) FROM articles WHERE arrived >= ?1",
                params![since],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// One page of NEWNEWS: (seq, Message-ID, Newsgroups) of the articles from arrival
    /// sequence `from` on that arrived at or after `since`, in arrival order, at most
    /// `limit`. The scan follows the sequence (`+arrived` keeps SQLite off the `arrived`
    /// index, which would sort every match on every page).
    pub fn arrived_since(
        &self,
        since: i64,
        from: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String, String)>, SpoolError> {
        self.conn
            .prepare_cached(
                "SELECT seq, msgid, newsgroups FROM articles \
                 WHERE seq >= ?2 AND +arrived >= ?1 ORDER BY seq LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![since, from, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// Number of stored articles.
    pub fn article_count(&self) -> Result<i64, SpoolError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

/// A `control.*` pseudo-group: where control messages are filed, never listed as a group
/// this node carries.
pub fn is_internal_group(name: &str) -> bool {
    name == "control" || name.starts_with("control.")
}

/// An [`Arrival`] from a row of `seq, msgid, path, newsgroups, delivered_by, posted,
/// governance control` (the arrival listings' columns, in that order).
pub(super) fn arrival(r: &rusqlite::Row<'_>) -> rusqlite::Result<Arrival> {
    Ok(Arrival {
        seq: r.get(0)?,
        msgid: r.get(1)?,
        path: r.get(2)?,
        newsgroups: r.get(3)?,
        delivered_by: r.get(4)?,
        posted: r.get(5)?,
        governance: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{new_article, temp_spool};

    #[test]
    fn arrivals_and_overview_follow_the_sequence() {
        let (_dir, mut spool) = temp_spool();
        let batch: Vec<_> = (0..5)
            .map(|i| new_article(&format!("<{i}@x>"), "mesh.test"))
            .collect();
        spool.store_batch(&batch).unwrap();
        let all = spool.arrivals_since(0, 100).unwrap();
        assert_eq!(all.len(), 5);
        let later = spool.arrivals_since(all[2].seq, 100).unwrap();
        assert_eq!(
            later.iter().map(|a| a.msgid.as_str()).collect::<Vec<_>>(),
            ["<3@x>", "<4@x>"]
        );
        assert_eq!(spool.last_seq().unwrap(), all[4].seq);
        let over = spool.overview("mesh.test", 2, 3).unwrap();
        assert_eq!(over.iter().map(|o| o.number).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(over[0].msgid, "<1@x>");
        assert_eq!(
            spool.article_at("mesh.test", 5).unwrap().unwrap().msgid,
            "<4@x>"
        );
        assert_eq!(spool.number_in("mesh.test", "<4@x>").unwrap(), Some(5));
        assert!(spool.article("<nope@x>").unwrap().is_none());
    }

    #[test]
    fn next_prev_and_overview_by_id() {
        let (_dir, mut spool) = temp_spool();
        let batch: Vec<_> = (0..3)
            .map(|i| new_article(&format!("<{i}@x>"), "mesh.test"))
            .collect();
        spool.store_batch(&batch).unwrap();
        assert_eq!(
            spool.next_in("mesh.test", 0).unwrap(),
            Some((1, "<0@x>".to_string()))
        );
        assert_eq!(
            spool.next_in("mesh.test", 1).unwrap(),
            Some((2, "<1@x>".to_string()))
        );
        assert_eq!(spool.next_in("mesh.test", 3).unwrap(), None);
        assert_eq!(
            spool.prev_in("mesh.test", 3).unwrap(),
            Some((2, "<1@x>".to_string()))
        );
        assert_eq!(spool.prev_in("mesh.test", 1).unwrap(), None);
        assert_eq!(spool.next_in("other", 0).unwrap(), None);
        let o = spool.overview_of("<2@x>").unwrap().unwrap();
        assert_eq!((o.number, o.subject.as_str()), (0, "about <2@x>"));
        assert!(spool.overview_of("<9@x>").unwrap().is_none());
    }

    #[test]
    fn overview_xref_names_every_group_an_article_is_filed_in() {
        let (_dir, mut spool) = temp_spool();
        let mut cross = new_article("<x@x>", "mesh.a");
        cross.newsgroups.push("mesh.b".into());
        spool
            .store_batch(&[new_article("<0@x>", "mesh.b"), cross])
            .unwrap();
        let in_b = spool.overview("mesh.b", 1, 2).unwrap();
        assert_eq!(in_b[0].xref, "mesh.b:1");
        assert_eq!(in_b[1].xref, "mesh.a:1 mesh.b:2");
        assert_eq!(
            spool.overview_of("<x@x>").unwrap().unwrap().xref,
            "mesh.a:1 mesh.b:2"
        );
    }
}
