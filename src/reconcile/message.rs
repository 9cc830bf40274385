//! Reconciliation messages in negentropy's protocol V1 wire form: a version byte
//! ([`VERSION`]), then ranges, each an upper bound (timestamp as a delta from the
//! previous bound's, infinity as 0; an id prefix), a mode and its payload:
//! `Skip` (nothing), `Fingerprint` (16 bytes) or `IdList` (a count, then 32-byte ids).
//! Integers are varints, base 128 most significant digit first.
//!
//! The decoder is nom, total and bounded: at most [`MAX_FRAME_BYTES`] of input and
//! [`MAX_RANGES`] ranges, bounds strictly increasing (so a range is never empty of
//! order and a peer cannot loop us over the same place), infinity only last, an id
//! count checked against the bytes left before anything is allocated.

use nom::bytes::complete::{take, take_while_m_n};
use nom::number::complete::u8 as byte;
use nom::{IResult, Parser};

use super::item::{Bound, Fingerprint, Id, FINGERPRINT_SIZE, ID_SIZE};

/// The protocol version byte that starts every message (negentropy V1).
pub const VERSION: u8 = 0x61;
/// Largest message accepted or sent, in bytes (before the text encoding of the wire).
pub const MAX_FRAME_BYTES: usize = 256 * 1024;
/// Most ranges in one message.
pub const MAX_RANGES: usize = 8192;
/// Longest varint: ten base-128 digits hold a u64.
const MAX_VARINT: usize = 10;

/// What a range says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Nothing more to do for this range.
    Skip,
    /// The sender's fingerprint of the range.
    Fingerprint(Fingerprint),
    /// Every id the sender holds in the range.
    IdList(Vec<Id>),
}

/// One range: everything from the previous range's upper bound (or the lowest bound)
/// up to, not including, `upper`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Exclusive upper bound.
    pub upper: Bound,
    /// What the sender says about the range.
    pub mode: Mode,
}

/// A whole message. After its last range, up to infinity, is an implicit `Skip`; an
/// empty message says the sender has nothing more to ask.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The ranges in ascending order.
    pub ranges: Vec<Range>,
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Larger than [`MAX_FRAME_BYTES`].
    #[error("reconciliation message of {0} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    /// More than [`MAX_RANGES`] ranges.
    #[error("reconciliation message has more than {MAX_RANGES} ranges")]
    TooManyRanges,
    /// Not protocol V1.
    #[error("reconciliation message of an unknown version")]
    Version,
    /// A bound at or below the previous one, or a range after infinity.
    #[error("reconciliation message bounds out of order")]
    Order,
    /// Anything else that does not parse.
    #[error("malformed reconciliation message")]
    Malformed,
}

/// Appends `n` as a varint.
pub fn put_varint(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; MAX_VARINT];
    let mut len = 0;
    let mut rest = n;
    loop {
        digits[len] = (rest & 0x7f) as u8;
        len += 1;
        rest >>= 7;
        if rest == 0 {
            break;
        }
    }
    for i in (0..len).rev() {
        let more = if i > 0 { 0x80 } else { 0 };
        out.push(digits[i] | more);
    }
}

/// A varint: up to nine digits with the high bit set, then one without.
fn varint(input: &[u8]) -> IResult<&[u8], u64> {
    let (input, (high, last)) =
        (take_while_m_n(0, MAX_VARINT - 1, |b| b & 0x80 != 0), byte).parse(input)?;
    if last & 0x80 != 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::TooLarge,
        )));
    }
    let mut n: u64 = 0;
    for digit in high.iter().copied().chain(std::iter::once(last)) {
        n = n
            .checked_mul(128)
            .and_then(|n| n.checked_add(u64::from(digit & 0x7f)))
            .ok_or_else(|| {
                nom::Err::Error(nom::error::Error::new(
                    input,
                    nom::error::ErrorKind::TooLarge,
                ))
            })?;
    }
    Ok((input, n))
}

/// Writes messages range by range, keeping the timestamp deltas and the size in step,
/// so a sender can stop before a frame limit.
#[derive(Debug, Clone)]
pub struct Encoder {
    out: Vec<u8>,
    last_timestamp: u64,
    ranges: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            out: vec![VERSION],
            last_timestamp: 0,
            ranges: 0,
        }
    }
}

impl Encoder {
    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no range was written.
    pub fn is_empty(&self) -> bool {
        self.ranges == 0
    }

    /// Ranges so far.
    pub fn ranges(&self) -> usize {
        self.ranges
    }

    /// Appends one range.
    pub fn push(&mut self, upper: &Bound, mode: &Mode) {
        if upper.is_infinity() {
            self.last_timestamp = u64::MAX;
            put_varint(&mut self.out, 0);
        } else {
            let delta = upper.timestamp.saturating_sub(self.last_timestamp);
            self.last_timestamp = upper.timestamp;
            put_varint(&mut self.out, delta.saturating_add(1));
        }
        put_varint(&mut self.out, u64::from(upper.prefix_len));
        self.out.extend_from_slice(upper.prefix());
        match mode {
            Mode::Skip => put_varint(&mut self.out, 0),
            Mode::Fingerprint(fp) => {
                put_varint(&mut self.out, 1);
                self.out.extend_from_slice(fp);
            }
            Mode::IdList(ids) => {
                put_varint(&mut self.out, 2);
                put_varint(&mut self.out, ids.len() as u64);
                for id in ids {
                    self.out.extend_from_slice(id);
                }
            }
        }
        self.ranges += 1;
    }

    /// The message bytes.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// Encodes a whole message.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut encoder = Encoder::default();
    for range in &message.ranges {
        encoder.push(&range.upper, &range.mode);
    }
    encoder.finish()
}

/// A bound's timestamp (a delta from `last`, 0 for infinity) and id prefix.
fn bound(last: u64) -> impl Fn(&[u8]) -> IResult<&[u8], Bound> {
    move |input| {
        let (input, encoded) = varint(input)?;
        let (input, len) = varint(input)?;
        if len > ID_SIZE as u64 {
            return Err(nom::Err::Error(nom::error::Error::new(
                input,
                nom::error::ErrorKind::TooLarge,
            )));
        }
        let (input, prefix) = take(len as usize).parse(input)?;
        let timestamp = match encoded {
            0 => u64::MAX,
            // Nothing follows infinity (the caller refuses it); stay there regardless.
            _ if last == u64::MAX => u64::MAX,
            n => last.checked_add(n - 1).ok_or_else(|| {
                nom::Err::Error(nom::error::Error::new(
                    input,
                    nom::error::ErrorKind::TooLarge,
                ))
            })?,
        };
        Ok((input, Bound::new(timestamp, prefix)))
    }
}

/// A mode and its payload.
fn mode(input: &[u8]) -> IResult<&[u8], Mode> {
    let (input, mode) = varint(input)?;
    match mode {
        0 => Ok((input, Mode::Skip)),
        1 => {
            let (input, fp) = take(FINGERPRINT_SIZE).parse(input)?;
            let mut out = [0; FINGERPRINT_SIZE];
            out.copy_from_slice(fp);
            Ok((input, Mode::Fingerprint(out)))
        }
        2 => {
            let (input, count) = varint(input)?;
            // Checked before allocating: the ids must be there.
            if count > (input.len() / ID_SIZE) as u64 {
                return Err(nom::Err::Error(nom::error::Error::new(
                    input,
                    nom::error::ErrorKind::Eof,
                )));
            }
            let (input, bytes) = take(count as usize * ID_SIZE).parse(input)?;
            let ids = bytes
                .chunks_exact(ID_SIZE)
                .map(|c| {
                    let mut id = [0; ID_SIZE];
                    id.copy_from_slice(c);
                    id
                })
                .collect();
            Ok((input, Mode::IdList(ids)))
        }
        _ => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Tag,
        ))),
    }
}

/// Decodes a message, checking every bound of this module.
pub fn decode(input: &[u8]) -> Result<Message, MessageError> {
    if input.len() > MAX_FRAME_BYTES {
        return Err(MessageError::TooLarge(input.len()));
    }
    let Some((&VERSION, mut rest)) = input.split_first() else {
        return Err(MessageError::Version);
    };
    let mut ranges: Vec<Range> = Vec::new();
    let mut previous = Bound::MIN;
    let mut last_timestamp = 0;
    while !rest.is_empty() {
        if ranges.len() == MAX_RANGES {
            return Err(MessageError::TooManyRanges);
        }
        if previous.is_infinity() {
            return Err(MessageError::Order);
        }
        let (after, (upper, mode)) = (bound(last_timestamp), mode)
            .parse(rest)
            .map_err(|_| MessageError::Malformed)?;
        if upper.key() <= previous.key() {
            return Err(MessageError::Order);
        }
        last_timestamp = upper.timestamp;
        previous = upper;
        ranges.push(Range { upper, mode });
        rest = after;
    }
    Ok(Message { ranges })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varints_are_most_significant_digit_first() {
        for (n, wire) in [
            (0u64, &[0u8][..]),
            (127, &[0x7f]),
            (128, &[0x81, 0x00]),
            (300, &[0x82, 0x2c]),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            assert_eq!(out, wire, "{n}");
            assert_eq!(varint(wire).map(|(_, n)| n), Ok(n));
        }
        let mut max = Vec::new();
        put_varint(&mut max, u64::MAX);
        assert_eq!(varint(&max).map(|(_, n)| n), Ok(u64::MAX));
        // Eleven digits, or ten that overflow, are refused.
        assert!(varint(&[0xff; 10]).is_err());
        assert!(varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }

    #[test]
    fn malformed_messages_are_refused_by_name() {
        assert_eq!(decode(b""), Err(MessageError::Version));
        assert_eq!(decode(&[0x60]), Err(MessageError::Version));
        assert_eq!(decode(&[VERSION]), Ok(Message::default()));
        // A fingerprint cut short; an unknown mode; an id list longer than its bytes.
        assert_eq!(decode(&[VERSION, 2, 0, 1, 9]), Err(MessageError::Malformed));
        assert_eq!(decode(&[VERSION, 2, 0, 3]), Err(MessageError::Malformed));
        assert_eq!(
            decode(&[VERSION, 2, 0, 2, 0xff, 0xff, 0x7f]),
            Err(MessageError::Malformed)
        );
        // The same bound twice; a range after infinity; a prefix longer than an id.
        assert_eq!(
            decode(&[VERSION, 2, 0, 0, 1, 0, 0]),
            Err(MessageError::Order)
        );
        assert_eq!(
            decode(&[VERSION, 0, 0, 0, 0, 0, 0]),
            Err(MessageError::Order)
        );
        assert_eq!(decode(&[VERSION, 2, 33, 0]), Err(MessageError::Malformed));
        // The lowest bound is no range at all.
        assert_eq!(decode(&[VERSION, 1, 0, 0]), Err(MessageError::Order));
        let huge = vec![0; MAX_FRAME_BYTES + 1];
        assert_eq!(decode(&huge), Err(MessageError::TooLarge(huge.len())));
        let mut many = vec![VERSION];
        for _ in 0..=MAX_RANGES {
            many.extend_from_slice(&[2, 0, 0]);
        }
        assert_eq!(decode(&many), Err(MessageError::TooManyRanges));
    }

    fn arb_mode() -> impl Strategy<Value = Mode> {
        prop_oneof![
            Just(Mode::Skip),
            any::<[u8; FINGERPRINT_SIZE]>().prop_map(Mode::Fingerprint),
            proptest::collection::vec(any::<[u8; ID_SIZE]>(), 0..4).prop_map(Mode::IdList),
        ]
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        proptest::collection::vec(
            (
                0u64..1000,
                proptest::collection::vec(any::<u8>(), 0..=ID_SIZE),
                arb_mode(),
            ),
            0..20,
        )
        .prop_map(|parts| {
            // Ascending, distinct bounds; the last may be infinity.
            let mut bounds: Vec<Bound> = parts
                .iter()
                .map(|(ts, prefix, _)| Bound::new(*ts, prefix))
                .filter(|b| b.key() > Bound::MIN.key())
                .collect();
            bounds.sort();
            bounds.dedup_by_key(|b| b.key());
            if parts.len() % 3 == 0 {
                bounds.push(Bound::INFINITY);
            }
            Message {
                ranges: bounds
                    .into_iter()
                    .zip(parts.into_iter().map(|(_, _, m)| m))
                    .map(|(upper, mode)| Range { upper, mode })
                    .collect(),
            }
        })
    }

    proptest! {
        #[test]
        fn round_trip(message in arb_message()) {
            prop_assert_eq!(decode(&encode(&message)), Ok(message));
        }

        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut input = vec![VERSION];
            input.extend_from_slice(&bytes);
            if let Ok(message) = decode(&input) {
                prop_assert!(message.ranges.len() <= MAX_RANGES);
            }
        }
    }
}
