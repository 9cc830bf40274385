//! Helpers the fuzz targets share: cutting a fuzzer input into a few small
//! parameters (a size limit, split points) and the rest, so that one byte string
//! drives both the data and the knobs of the parser under test.

/// Takes the first byte of `data` as a small number (0 when empty) and returns it with
/// the rest of the input.
pub fn take_byte(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    }
}

/// Takes two bytes as a little-endian `u16` limit, mapping 0xFFFF to "no limit"
/// (`usize::MAX`), and returns it with the rest.
pub fn take_limit(data: &[u8]) -> (usize, &[u8]) {
    let (lo, data) = take_byte(data);
    let (hi, data) = take_byte(data);
    match u16::from_le_bytes([lo, hi]) {
        u16::MAX => (usize::MAX, data),
        n => (usize::from(n), data),
    }
}

/// Strips one trailing CRLF (what `write` methods append) from a written line.
pub fn without_crlf(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r\n").unwrap_or(line)
}

/// Reference line-end normalisation for dot-stuffed blocks: every LF-terminated line
/// loses one trailing CR and ends in CRLF; a final unterminated line gets a CRLF; an
/// empty final piece adds nothing.
pub fn normalise_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let last = lines.pop().unwrap_or_default();
    for line in lines {
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        out.extend_from_slice(b"\r\n");
    }
    if !last.is_empty() {
        out.extend_from_slice(last);
        out.extend_from_slice(b"\r\n");
    }
    out
}
