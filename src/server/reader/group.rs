//! GROUP, LISTGROUP, NEXT and LAST: the selected group and the current article number
//! (RFC 3977 §6.1).

use super::{bounds, query, selected};
use crate::net::NetError;
use crate::protocol::Range;
use crate::server::session::Session;
use crate::spool::GroupInfo;

/// Most article numbers taken from the spool in one go while listing.
const CHUNK: i64 = 10_000;

/// `count low high` as RFC 3977 §6.1.1 reports them: from the first article really
/// present; an empty group has count 0 and low = high + 1.
fn summary(info: &GroupInfo, first: Option<i64>) -> (i64, i64, i64) {
    match first {
        Some(low) => (info.count, low, info.high.max(low)),
        None => (0, info.high + 1, info.high),
    }
}

/// GROUP: selects the group; the current article becomes its first one.
pub(super) async fn group(s: &mut Session, name: String) {
    let probe = name.clone();
    let Some(found) = query(s, move |_, spool| {
        let Some(info) = spool.group(&probe)? else {
            return Ok(None);
        };
        let first = spool.next_in(&probe, 0)?.map(|(n, _)| n);
        Ok(Some((info, first)))
    })
    .await
    else {
        return;
    };
    match found {
        None => s.reply(411, &format!("no such newsgroup {name}")),
        Some((info, first)) => {
            let (count, low, high) = summary(&info, first);
            s.reply(211, &format!("{count} {low} {high} {name}"));
            s.group = Some(name);
            s.current = first;
        }
    }
}

/// LISTGROUP [group [range]]: selects the group (or keeps the selected one) and lists
/// the numbers of the articles present in the range (default: all).
pub(super) async fn listgroup(
    s: &mut Session,
    group: Option<String>,
    range: Option<Range>,
) -> Result<(), NetError> {
    let name = match group {
        Some(g) => g,
        None => match selected(s) {
            Some(g) => g,
            None => return Ok(()),
        },
    };
    let (from, to) = range.map_or((0, i64::MAX), bounds);
    let probe = name.clone();
    let Some(found) = query(s, move |_, spool| {
        let Some(info) = spool.group(&probe)? else {
            return Ok(None);
        };
        let first = spool.next_in(&probe, 0)?.map(|(n, _)| n);
        let to = to.min(info.high);
        let end = to.min(from.saturating_add(CHUNK - 1));
        let numbers = spool.numbers(&probe, from, end)?;
        Ok(Some((info, first, to, end, numbers)))
    })
    .await
    else {
        return Ok(());
    };
    let Some((info, first, to, mut end, numbers)) = found else {
        s.reply(411, &format!("no such newsgroup {name}"));
        return Ok(());
    };
    let (count, low, high) = summary(&info, first);
    s.reply(
        211,
        &format!("{count} {low} {high} {name} article numbers follow"),
    );
    s.group = Some(name.clone());
    s.current = first;
    put_numbers(s, &numbers);
    while end < to {
        s.conn.flush().await?;
        let (start, stop) = (end + 1, to.min(end.saturating_add(CHUNK)));
        end = stop;
        let probe = name.clone();
        let numbers = s
            .shared
            .with_spool(move |_, spool| Ok(spool.numbers(&probe, start, stop)?))
            .await
            .map_err(|e| NetError::Io(std::io::Error::other(e.to_string())))?;
        put_numbers(s, &numbers);
    }
    s.conn.queue(b".\r\n");
    Ok(())
}

fn put_numbers(s: &mut Session, numbers: &[i64]) {
    let out = s.conn.out();
    for n in numbers {
        out.extend_from_slice(n.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// NEXT (`forward`) or LAST: moves the current article to the next or previous one
/// present in the selected group.
pub(super) async fn step(s: &mut Session, forward: bool) {
    let Some(group) = selected(s) else {
        return;
    };
    let Some(current) = s.current else {
        s.reply(420, "no current article selected");
        return;
    };
    let Some(found) = query(s, move |_, spool| {
        Ok(if forward {
            spool.next_in(&group, current)?
        } else {
            spool.prev_in(&group, current)?
        })
    })
    .await
    else {
        return;
    };
    match found {
        Some((n, id)) => {
            s.current = Some(n);
            s.reply(223, &format!("{n} {id} article selected"));
        }
        None if forward => s.reply(421, "no next article in this group"),
        None => s.reply(422, "no previous article in this group"),
    }
}
