//! RFC 3977 §4 wildmat patterns: `*` and `?` wildcards, comma-separated alternatives,
//! `!` negation, and "the last matching pattern decides". Used for peer group feeds
//! (like INN's newsfeeds), trust rules and the reader's LIST/NEWNEWS arguments.

/// A parsed wildmat: a list of (negated, pattern) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildmat {
    parts: Vec<(bool, String)>,
}

impl Wildmat {
    /// Parses `text` such as `mesh.*,!mesh.private.*`. Empty alternatives are ignored.
    pub fn new(text: &str) -> Wildmat {
        let parts = text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.strip_prefix('!') {
                Some(rest) => (true, rest.to_string()),
                None => (false, p.to_string()),
            })
            .collect();
        Wildmat { parts }
    }

    /// True when the last alternative that matches `name` is not negated.
    pub fn matches(&self, name: &str) -> bool {
        self.parts
            .iter()
            .rev()
            .find(|(_, pat)| glob(pat.as_bytes(), name.as_bytes()))
            .is_some_and(|(negated, _)| !negated)
    }

    /// True when one group of `newsgroups` (a Newsgroups value: comma-separated,
    /// spaces allowed around the commas) matches.
    pub fn matches_any(&self, newsgroups: &str) -> bool {
        newsgroups.split(',').any(|g| self.matches(g.trim()))
    }

    /// The pattern text as written (normalised: no spaces).
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .map(|(neg, p)| if *neg { format!("!{p}") } else { p.clone() })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Iterative glob with single-star backtracking: linear in practice, never exponential.
fn glob(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p.min(pat.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_questions_and_negation() {
        let w = Wildmat::new("mesh.*,!mesh.private.*");
        assert!(w.matches("mesh.test"));
        assert!(!w.matches("mesh.private.x"));
        assert!(!w.matches("alt.test"));
        assert!(Wildmat::new("*").matches("anything.at.all"));
        assert!(Wildmat::new("a?c").matches("abc"));
        assert!(!Wildmat::new("a?c").matches("ac"));
        assert!(Wildmat::new("*a*b*").matches("xxaxxbxx"));
        assert!(!Wildmat::new("").matches("x"));
    }

    #[test]
    fn last_match_wins() {
        let w = Wildmat::new("!*,mesh.announce");
        assert!(w.matches("mesh.announce"));
        assert!(!w.matches("mesh.test"));
        assert_eq!(w.text(), "!*,mesh.announce");
    }
}
