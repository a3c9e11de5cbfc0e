//! Maven version ordering (the rules of Maven's `ComparableVersion`).
//!
//! A version is split at `.` and `-` and at every switch between digits and letters into
//! numbers and qualifiers; `-` (and a digit/letter switch) opens a nested list. Trailing
//! "null" items (`0`, the empty qualifier, `final`, `ga`, `release`) are dropped from each
//! list. Qualifiers order `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final =
//! release < sp`, unknown qualifiers after those (alphabetically); a single `a`, `b` or `m`
//! directly followed by a digit means alpha, beta, milestone. A number beats a qualifier and
//! a list; a list beats a qualifier.

use std::cmp::Ordering;

const QUALIFIERS: &[&str] = &["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE_INDEX: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Decimal digits without leading zeros (arbitrary length, compared by length then text).
    Int(String),
    Str(String),
    List(Vec<Item>),
}

/// A parsed Maven version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    items: Vec<Item>,
}

impl Version {
    /// Parse; every string is a Maven version.
    pub fn parse(s: &str) -> Version {
        let lower = s.trim().to_ascii_lowercase();
        let chars: Vec<char> = lower.chars().collect();
        // A stack of open lists: index 0 is the root.
        let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
        let mut start = 0;
        let mut is_digit = false;
        for i in 0..chars.len() {
            let c = chars[i];
            if c == '.' || c == '-' {
                let item = if i == start {
                    Item::Int("0".into())
                } else {
                    item(&chars[start..i], is_digit, false)
                };
                stack.last_mut().expect("root").push(item);
                start = i + 1;
                if c == '-' {
                    stack.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    let s: String = chars[start..i].iter().collect();
                    stack.last_mut().expect("root").push(string_item(&s, true));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    stack
                        .last_mut()
                        .expect("root")
                        .push(item(&chars[start..i], true, false));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = false;
            }
        }
        if chars.len() > start {
            stack
                .last_mut()
                .expect("root")
                .push(item(&chars[start..], is_digit, false));
        }
        // Close the nested lists innermost first, each normalised and appended to its parent.
        while stack.len() > 1 {
            let mut list = stack.pop().expect("nested");
            normalize(&mut list);
            stack.last_mut().expect("root").push(Item::List(list));
        }
        let mut root = stack.pop().expect("root");
        normalize(&mut root);
        Version { items: root }
    }
}

fn item(chars: &[char], is_digit: bool, followed_by_digit: bool) -> Item {
    let s: String = chars.iter().collect();
    if is_digit {
        let trimmed = s.trim_start_matches('0');
        Item::Int(if trimmed.is_empty() {
            "0".into()
        } else {
            trimmed.into()
        })
    } else {
        string_item(&s, followed_by_digit)
    }
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    let s = if followed_by_digit && s.len() == 1 {
        match s {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            other => other,
        }
    } else {
        s
    };
    let s = match s {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(s.to_owned())
}

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(v) => v == "0",
        Item::Str(s) => s.is_empty(),
        Item::List(l) => l.is_empty(),
    }
}

/// Drop trailing null items, looking past non-null nested lists as Maven does.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if is_null(&list[i]) {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// The sort key of a qualifier: its index among the known ones, or after all of them.
fn qualifier_key(q: &str) -> String {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn cmp_int(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compare `a` with `b`, where `None` is the missing item of a shorter list.
fn cmp_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(b)) => cmp_item(Some(b), None).reverse(),
        (Some(Item::Int(v)), None) => {
            if v == "0" {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Some(Item::Str(s)), None) => qualifier_key(s).cmp(&RELEASE_INDEX.to_string()),
        (Some(Item::List(l)), None) => match l.first() {
            None => Ordering::Equal,
            Some(first) => cmp_item(Some(first), None),
        },
        (Some(Item::Int(x)), Some(Item::Int(y))) => cmp_int(x, y),
        (Some(Item::Int(_)), Some(_)) => Ordering::Greater,
        (Some(Item::Str(_)), Some(Item::Int(_))) => Ordering::Less,
        (Some(Item::Str(x)), Some(Item::Str(y))) => qualifier_key(x).cmp(&qualifier_key(y)),
        (Some(Item::Str(_)), Some(Item::List(_))) => Ordering::Less,
        (Some(Item::List(_)), Some(Item::Int(_))) => Ordering::Less,
        (Some(Item::List(_)), Some(Item::Str(_))) => Ordering::Greater,
        (Some(Item::List(x)), Some(Item::List(y))) => cmp_lists(x, y),
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let o = cmp_item(a.get(i), b.get(i));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        Version::parse(a).cmp(&Version::parse(b))
    }

    #[test]
    fn orders_as_maven_documents() {
        // The ordering examples of Maven's version-ordering documentation.
        let ordered = [
            "1-alpha",
            "1-alpha2",
            "1-beta",
            "1-milestone",
            "1-rc",
            "1-snapshot",
            "1",
            "1-sp",
            "1-abc",
            "1-1",
            "1.1",
        ];
        for w in ordered.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        for (a, b) in [
            ("1", "1.0"),
            ("1", "1.0.0"),
            ("1.0", "1-final"),
            ("1-ga", "1"),
            ("1-cr1", "1-rc1"),
            ("1.0.0.RELEASE", "1"),
            ("1a1", "1-alpha-1"),
        ] {
            assert_eq!(cmp(a, b), Ordering::Equal, "{a} = {b}");
        }
        assert_eq!(cmp("2.12.7.1", "2.12.7"), Ordering::Greater);
        assert_eq!(cmp("2.17.0", "2.15.0"), Ordering::Greater);
        assert_eq!(cmp("1.0.10", "1.0.9"), Ordering::Greater);
        assert_eq!(
            cmp("12345678901234567890", "12345678901234567891"),
            Ordering::Less
        );
    }
}
