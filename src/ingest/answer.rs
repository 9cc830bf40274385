//! What a verdict answers: the one mapping from ingest's [`Verdict`] to the reply of the
//! command that offered the article (TAKETHIS, IHAVE, POST), and to the CLI's result for
//! an article made here. The feed, the reader and the CLI all answer through it, so a
//! code or a sentence cannot drift between them.

use super::Verdict;
use crate::error::{Error, Result};
use crate::protocol::Response;

/// The command an article arrived by: it chooses the codes of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// TAKETHIS (RFC 4644): 239 stored, 439 not (the Message-ID leads the text).
    Takethis,
    /// IHAVE (RFC 3977 §6.3.2): 235 stored, 435 already here, 437 refused.
    Ihave,
    /// POST (RFC 3977 §6.3.1), signed here: 240 received, 441 not.
    Post,
}

impl Verdict {
    /// The answer to the command that offered article `id`.
    pub fn answer(&self, by: Offered, id: &str) -> Response {
        match (by, self) {
            (Offered::Takethis, Verdict::Stored(_)) => Response::about(239, id, "stored"),
            (Offered::Takethis, Verdict::Duplicate) => Response::about(439, id, "already have it"),
            (Offered::Takethis, Verdict::Refused(why)) => {
                Response::about(439, id, &why.to_string())
            }
            // Over a quota: try later, as for a full spool.
            (Offered::Takethis, Verdict::Deferred(why)) => {
                Response::about(431, id, &why.to_string())
            }
            (Offered::Ihave, Verdict::Stored(_)) => Response::new(235, "article transferred OK"),
            (Offered::Ihave, Verdict::Duplicate) => Response::new(435, "already have it"),
            (Offered::Ihave, Verdict::Refused(why)) => Response::new(437, why.to_string()),
            (Offered::Ihave, Verdict::Deferred(why)) => Response::new(436, why.to_string()),
            (Offered::Post, Verdict::Stored(_)) => {
                Response::new(240, format!("{id} article received"))
            }
            (Offered::Post, Verdict::Duplicate) => {
                Response::new(441, format!("posting failed: {id} is already here"))
            }
            (Offered::Post, Verdict::Refused(why) | Verdict::Deferred(why)) => {
                Response::new(441, format!("posting failed: {why}"))
            }
        }
    }

    /// For an article made on this node (`post`, `cancel`, the testbed): its arrival
    /// sequence, or the refusal the CLI prints ([`Error::Refused`]).
    pub fn into_stored(self) -> Result<i64> {
        match self {
            Verdict::Stored(seq) => Ok(seq),
            Verdict::Duplicate => Err(Error::Refused(
                "an identical article is already stored".into(),
            )),
            Verdict::Refused(why) | Verdict::Deferred(why) => Err(Error::Refused(why.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Refusal;

    /// The codes and sentences peers, newsreaders and scripts have always seen.
    #[test]
    fn each_command_hears_its_own_codes() {
        let stored = Verdict::Stored(7);
        let dup = Verdict::Duplicate;
        let refused = Verdict::Refused(Refusal::NoMessageId);
        let cases = [
            (&stored, Offered::Takethis, "239 <a@x> stored"),
            (&dup, Offered::Takethis, "439 <a@x> already have it"),
            (&refused, Offered::Takethis, "439 <a@x> no Message-ID"),
            (&stored, Offered::Ihave, "235 article transferred OK"),
            (&dup, Offered::Ihave, "435 already have it"),
            (&refused, Offered::Ihave, "437 no Message-ID"),
            (&stored, Offered::Post, "240 <a@x> article received"),
            (
                &dup,
                Offered::Post,
                "441 posting failed: <a@x> is already here",
            ),
            (&refused, Offered::Post, "441 posting failed: no Message-ID"),
        ];
        for (verdict, by, line) in cases {
            let r = verdict.answer(by, "<a@x>");
            assert_eq!(format!("{} {}", r.code, r.text), line, "{verdict:?} {by:?}");
        }
    }

    #[test]
    fn a_local_article_is_stored_or_says_why_not() {
        assert_eq!(Verdict::Stored(3).into_stored().unwrap(), 3);
        let dup = Verdict::Duplicate.into_stored().unwrap_err().to_string();
        assert_eq!(
            dup,
            "article refused: an identical article is already stored"
        );
        let refused = Verdict::Refused(Refusal::NoMessageId).into_stored();
        assert_eq!(
            refused.unwrap_err().to_string(),
            "article refused: no Message-ID"
        );
    }
}
