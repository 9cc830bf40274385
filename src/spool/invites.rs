//! The invites this node made (schema 8, `invites`): stored by the hash of their secret,
//! counted down as they are redeemed, refused once used up or expired.

use rusqlite::{params, OptionalExtension};

use super::{now, Spool, SpoolError};

/// Why an invite secret was not redeemed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteRefusal {
    /// No invite has this secret (never made, withdrawn, or a forged code).
    #[error("no such invite here (withdrawn, or not a code this node made)")]
    Unknown,
    /// Every use was taken.
    #[error("this invite has been used already")]
    Used,
    /// Past its expiry.
    #[error("this invite has expired")]
    Expired,
}

impl Spool {
    fn invite_err(&self, e: rusqlite::Error) -> SpoolError {
        SpoolError::from_sqlite(&self.path, e)
    }

    /// Records a new invite.
    pub fn add_invite(
        &mut self,
        secret_hash: &str,
        groups: &str,
        uses: u32,
        expires: i64,
    ) -> Result<(), SpoolError> {
        self.conn
            .execute(
                "INSERT INTO invites (secret_hash, groups, uses_left, expires, created)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![secret_hash, groups, uses, expires, now()],
            )
            .map(drop)
            .map_err(|e| self.invite_err(e))
    }

    /// Redeems one use of the invite whose secret hashes to `secret_hash`, in one
    /// transaction (two newcomers racing for the last use cannot both have it): the
    /// invite's groups when it was valid.
    pub fn redeem_invite(
        &mut self,
        secret_hash: &str,
    ) -> Result<Result<String, InviteRefusal>, SpoolError> {
        let path = self.path.clone();
        let wrap = |e| SpoolError::from_sqlite(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let row: Option<(String, i64, i64)> = tx
            .query_row(
                "SELECT groups, uses_left, expires FROM invites WHERE secret_hash = ?1",
                params![secret_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(wrap)?;
        let verdict = match row {
            None => Err(InviteRefusal::Unknown),
            Some((_, uses, _)) if uses <= 0 => Err(InviteRefusal::Used),
            Some((_, _, expires)) if expires < now() => Err(InviteRefusal::Expired),
            Some((groups, _, _)) => {
                tx.execute(
                    "UPDATE invites SET uses_left = uses_left - 1 WHERE secret_hash = ?1",
                    params![secret_hash],
                )
                .map_err(wrap)?;
                Ok(groups)
            }
        };
        tx.commit().map_err(wrap)?;
        Ok(verdict)
    }

    /// Gives one use back (the redemption failed after it was counted, before anything
    /// changed).
    pub fn restore_invite_use(&mut self, secret_hash: &str) -> Result<(), SpoolError> {
        self.conn
            .execute(
                "UPDATE invites SET uses_left = uses_left + 1 WHERE secret_hash = ?1",
                params![secret_hash],
            )
            .map(drop)
            .map_err(|e| self.invite_err(e))
    }

    /// Withdraws an invite; whether there was one.
    pub fn remove_invite(&mut self, secret_hash: &str) -> Result<bool, SpoolError> {
        self.conn
            .execute(
                "DELETE FROM invites WHERE secret_hash = ?1",
                params![secret_hash],
            )
            .map(|n| n > 0)
            .map_err(|e| self.invite_err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::temp_spool;
    use super::*;

    #[test]
    fn an_invite_is_used_up_and_expires() {
        let (_dir, mut spool) = temp_spool();
        spool.add_invite("h1", "club.*", 1, now() + 60).unwrap();
        spool.add_invite("h2", "*", 2, now() - 1).unwrap();
        assert_eq!(spool.redeem_invite("h1").unwrap(), Ok("club.*".into()));
        assert_eq!(spool.redeem_invite("h1").unwrap(), Err(InviteRefusal::Used));
        assert_eq!(
            spool.redeem_invite("h2").unwrap(),
            Err(InviteRefusal::Expired)
        );
        assert_eq!(
            spool.redeem_invite("h3").unwrap(),
            Err(InviteRefusal::Unknown)
        );
        spool.restore_invite_use("h1").unwrap();
        assert!(spool.remove_invite("h1").unwrap());
        assert_eq!(
            spool.redeem_invite("h1").unwrap(),
            Err(InviteRefusal::Unknown)
        );
    }
}
