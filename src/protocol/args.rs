//! The argument helpers every command family shares (`command.rs` for RFC 3977/4644,
//! `mesh.rs` for the newsmesh extension): parsing one whole argument with a nom parser
//! into a syntax error that names it, and writing one argument back.

use nom::combinator::all_consuming;
use nom::Parser;

use super::command::CommandError;
use super::put_text;

/// Applies `p` to the whole of `arg`, mapping failure to a Syntax error.
pub(crate) fn full<'a, T, P>(p: P, arg: &'a str, what: &str) -> Result<T, CommandError>
where
    P: Parser<&'a str, Output = T, Error = nom::error::Error<&'a str>>,
{
    all_consuming(p)
        .parse(arg)
        .map(|(_, v)| v)
        .map_err(|_| syntax(format!("invalid {what}: {arg}")))
}

/// A syntax error saying `msg`.
pub(crate) fn syntax(msg: impl Into<String>) -> CommandError {
    CommandError::Syntax(msg.into())
}

/// Appends a space and `word` (sanitised) to `out`.
pub(crate) fn put_arg(out: &mut Vec<u8>, word: &str) {
    out.push(b' ');
    put_text(out, word);
}
