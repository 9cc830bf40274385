//! Scopes: the group patterns governance speaks of. A scope is a comma-separated list of
//! *simple* patterns, each `*`, a group name, or a hierarchy `name.*`. Keeping them
//! simple makes "is this pattern inside that admin's hierarchy" a question with an exact
//! answer (general wildmats cannot be compared that way), and makes the convergence rule
//! in `state.rs` easy to state.

use crate::article::is_valid_group_name;
use crate::wildmat::Wildmat;

/// One simple pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    /// `*`: every group.
    All,
    /// `name.*`: every group under `name.` (not `name` itself, as in a wildmat).
    Under(String),
    /// One group.
    Group(String),
}

impl Pattern {
    /// Parses one simple pattern; None when it is not one.
    pub fn parse(text: &str) -> Option<Pattern> {
        if text == "*" {
            return Some(Pattern::All);
        }
        if let Some(prefix) = text.strip_suffix(".*") {
            return is_valid_group_name(prefix).then(|| Pattern::Under(prefix.to_string()));
        }
        is_valid_group_name(text).then(|| Pattern::Group(text.to_string()))
    }

    /// Whether `group` falls under this pattern.
    pub fn matches(&self, group: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Under(prefix) => group
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1),
            Pattern::Group(name) => name == group,
        }
    }

    /// Whether every group `other` names is also named by this pattern.
    pub fn contains(&self, other: &Pattern) -> bool {
        match (self, other) {
            (Pattern::All, _) => true,
            (_, Pattern::All) => false,
            (Pattern::Under(a), Pattern::Under(b)) => {
                a == b || Pattern::Under(a.clone()).matches(b)
            }
            (Pattern::Under(_), Pattern::Group(g)) => self.matches(g),
            (Pattern::Group(a), Pattern::Group(b)) => a == b,
            (Pattern::Group(_), Pattern::Under(_)) => false,
        }
    }

    /// Whether some group is named by both.
    pub fn overlaps(&self, other: &Pattern) -> bool {
        self.contains(other) || other.contains(self)
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pattern::All => f.write_str("*"),
            Pattern::Under(prefix) => write!(f, "{prefix}.*"),
            Pattern::Group(name) => f.write_str(name),
        }
    }
}

/// A scope: one or more simple patterns (sorted, without repeats, so equal scopes are
/// written alike).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(Vec<Pattern>);

impl Scope {
    /// Parses `a.*,b.c`; None when empty or when any part is not a simple pattern
    /// (negations and partial wildcards included).
    pub fn parse(text: &str) -> Option<Scope> {
        let mut parts = text
            .split(',')
            .map(|p| Pattern::parse(p.trim()))
            .collect::<Option<Vec<_>>>()?;
        if parts.is_empty() {
            return None;
        }
        parts.sort();
        parts.dedup();
        Some(Scope(parts))
    }

    /// A scope of one pattern.
    pub fn one(pattern: Pattern) -> Scope {
        Scope(vec![pattern])
    }

    /// Its patterns.
    pub fn patterns(&self) -> &[Pattern] {
        &self.0
    }

    /// Whether `group` falls in this scope.
    pub fn matches(&self, group: &str) -> bool {
        self.0.iter().any(|p| p.matches(group))
    }

    /// Whether some group is in both.
    pub fn overlaps(&self, other: &Scope) -> bool {
        self.0.iter().any(|a| other.0.iter().any(|b| a.overlaps(b)))
    }

    /// How a wildmat (a `[[control]]` rule's groups) stands to every group of
    /// `pattern`, as the wildmat's "last match decides" reads: scanning from the end,
    /// the first part that can name one of its groups decides. A part that is not a
    /// simple pattern and might overlap cannot be compared: it answers `Partial`, so the
    /// caller errs towards refusing.
    pub fn wildmat_relation(wildmat: &Wildmat, pattern: &Pattern) -> Relation {
        let text = wildmat.text();
        for part in text.rsplit(',').filter(|p| !p.is_empty()) {
            let (negated, body) = match part.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, part),
            };
            let Some(simple) = Pattern::parse(body) else {
                if may_overlap(body, pattern) {
                    return Relation::Partial;
                }
                continue;
            };
            if !simple.overlaps(pattern) {
                continue;
            }
            return match (negated, simple.contains(pattern)) {
                (false, true) => Relation::Contains,
                (true, true) => Relation::Disjoint,
                _ => Relation::Partial,
            };
        }
        Relation::Disjoint
    }
}

/// How a wildmat stands to a pattern's groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// It names every one of them.
    Contains,
    /// It names none of them.
    Disjoint,
    /// Some, or it cannot be told.
    Partial,
}

/// Whether a general glob `part` might name a group of `pattern`: compared by the
/// literal text before the glob's first wildcard.
fn may_overlap(part: &str, pattern: &Pattern) -> bool {
    let literal = part.find(['*', '?', '[']).map_or(part, |at| &part[..at]);
    let prefix = match pattern {
        Pattern::All => return true,
        Pattern::Under(p) => format!("{p}."),
        Pattern::Group(g) => g.clone(),
    };
    literal.starts_with(&prefix) || prefix.starts_with(literal)
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(Pattern::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    #[test]
    fn simple_patterns_only() {
        assert_eq!(p("club.*"), Pattern::Under("club".into()));
        assert_eq!(p("*"), Pattern::All);
        for bad in ["club*", "!club.*", "a.?", "", "club.*.x", "a b"] {
            assert!(Pattern::parse(bad).is_none(), "{bad}");
        }
        assert!(Scope::parse("").is_none());
        assert_eq!(Scope::parse("b.*, a,b.*").unwrap().to_string(), "b.*,a");
    }

    #[test]
    fn containment_and_matching() {
        assert!(p("club.*").matches("club.a"));
        assert!(!p("club.*").matches("club"));
        assert!(!p("club.*").matches("clubs.a"));
        assert!(p("club.*").contains(&p("club.a.*")));
        assert!(p("club.*").contains(&p("club.a")));
        assert!(!p("club.a.*").contains(&p("club.*")));
        assert!(!p("club.*").contains(&p("other.*")));
        assert!(p("*").contains(&p("club.*")));
        assert!(p("club.a").overlaps(&p("club.*")));
        assert!(!p("club.a").overlaps(&p("club.b")));
    }

    #[test]
    fn a_control_rule_contains_a_pattern_only_wholly() {
        let rel = |w: &str, pat: &str| Scope::wildmat_relation(&Wildmat::new(w), &p(pat));
        assert_eq!(rel("club.*", "club.a"), Relation::Contains);
        assert_eq!(rel("mesh.*,club.*", "club.*"), Relation::Contains);
        assert_eq!(rel("club.*", "*"), Relation::Partial);
        assert_eq!(rel("club.*,!club.secret", "club.*"), Relation::Partial);
        assert_eq!(rel("club.*,!club.secret", "club.open"), Relation::Contains);
        assert_eq!(
            rel("club.*,!club.secret", "club.secret"),
            Relation::Disjoint
        );
        assert_eq!(rel("club.a*", "club.ab"), Relation::Partial);
        assert_eq!(rel("mesh.a*,club.*", "club.x"), Relation::Contains);
        assert_eq!(rel("other.*", "club.a"), Relation::Disjoint);
    }
}
