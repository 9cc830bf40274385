//! Fuzz target: the rnews batch reader (`BatchReader`), which `newsmesh import` runs
//! on files from a USB stick. The first input byte chooses the article size limit
//! (in units of 4 bytes).
//!
//! Properties: no panic and no endless loop; articles returned are within the limit
//! and oversized ones are reported as such; a batch that reads cleanly to its end,
//! written again item by item, reads back to the same items; and `write_article`
//! output reads back as the article with LF line ends.

use afl::fuzz;
use newsmesh::article::body_to_local;
use newsmesh::rnews::{parse_header, write_article, BatchReader, Item};
use newsmesh_fuzz::take_byte;

/// Reads up to `limit` items; `None` when the batch did not end cleanly.
fn read_all(batch: &[u8], max: usize, limit: usize) -> Option<Vec<Item>> {
    let mut reader = BatchReader::new(batch, max);
    let mut items = Vec::new();
    for _ in 0..limit {
        match reader.next_item() {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return Some(items),
            Err(_) => return None,
        }
    }
    None
}

fn main() {
    fuzz!(|data: &[u8]| {
        let (unit, batch) = take_byte(data);
        let max = usize::from(unit) * 4;
        let Some(items) = read_all(batch, max, 10_000) else {
            return;
        };
        let mut rewritten = Vec::new();
        let mut converted = Vec::new();
        let mut expected = Vec::new();
        for item in &items {
            match item {
                Item::Article(a) => {
                    assert!(a.len() <= max, "article over the limit");
                    let header = format!("#! rnews {}", a.len());
                    assert_eq!(parse_header(header.as_bytes()), Some(a.len() as u64));
                    rewritten.extend_from_slice(header.as_bytes());
                    rewritten.push(b'\n');
                    rewritten.extend_from_slice(a);
                    write_article(&mut converted, a).expect("writing to a Vec");
                    expected.push(Item::Article(body_to_local(a)));
                }
                Item::TooLarge(n) => {
                    assert!(*n > max as u64, "skipped an article within the limit");
                    rewritten.extend_from_slice(format!("#! rnews {n}\n").as_bytes());
                    rewritten.resize(rewritten.len() + *n as usize, b'x');
                }
            }
        }
        assert_eq!(read_all(&rewritten, max, 10_000).as_ref(), Some(&items));
        assert_eq!(read_all(&converted, max, 10_000), Some(expected));
    });
}
