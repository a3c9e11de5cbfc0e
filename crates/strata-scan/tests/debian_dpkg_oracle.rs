//! Debian version ordering checked against `dpkg --compare-versions` on generated pairs:
//! epochs, tildes, pluses, letters, long numbers and revisions, each pair built by mutating
//! the first version so many land close together.

use std::cmp::Ordering;
use std::process::Command;

use strata_scan::version::Scheme;

const PAIRS: usize = 2500;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const UPSTREAM_PARTS: &[&str] = &[
    "0",
    "1",
    "2",
    "9",
    "10",
    "01",
    "00",
    ".",
    ".0",
    ".1",
    ".10",
    "~",
    "~rc1",
    "~~",
    "+",
    "+dfsg",
    "+b1",
    "a",
    "b",
    "z",
    "rc",
    "~beta2",
    ".git20230101",
    "-",
    "99999999999",
];
const REVISION_PARTS: &[&str] = &[
    "0",
    "1",
    "2",
    "10",
    "1ubuntu1",
    "1+b1",
    "1~bpo12+1",
    "3.1",
    "deb12u1",
    "1+deb12u10",
    "1+deb12u9",
    "~",
    ".",
    "a",
    "+",
];

fn version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(20) {
        v.push_str(rng.pick(&["0:", "1:", "2:", "10:"]));
    }
    v.push_str(rng.pick(&["0", "1", "2", "3", "10", "2024"]));
    for _ in 0..(rng.next() % 4) {
        v.push_str(rng.pick(UPSTREAM_PARTS));
    }
    if rng.chance(65) || v.contains('-') {
        v.push('-');
        v.push_str(rng.pick(&["0", "1", "2", "9", "10"]));
        for _ in 0..(rng.next() % 3) {
            v.push_str(rng.pick(REVISION_PARTS));
        }
    }
    v
}

/// A version near `v`: one part changed, added or removed.
fn mutate(rng: &mut Rng, v: &str) -> String {
    let mut out = v.to_owned();
    match rng.next() % 5 {
        0 => out.push_str(rng.pick(&["~", "+1", "a", ".0", "1"])),
        1 => {
            if let Some(i) = out.rfind(|c: char| c.is_ascii_digit()) {
                let d = out.as_bytes()[i] - b'0';
                out.replace_range(i..=i, &((d + 1) % 10).to_string());
            }
        }
        2 => {
            if out.len() > 3 && !out.ends_with('-') {
                out.pop();
            }
        }
        3 => out = out.replacen('~', "+", 1),
        _ => out = version(rng),
    }
    out
}

/// The order dpkg gives (`lt`, else `eq`, else greater); `None` when dpkg calls either
/// version invalid (exit status 2).
fn dpkg_order(a: &str, b: &str) -> Option<Ordering> {
    let ask = |op: &str| -> Option<bool> {
        let status = Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("running dpkg");
        match status.code() {
            Some(0) => Some(true),
            Some(1) => Some(false),
            _ => None,
        }
    };
    Some(if ask("lt")? {
        Ordering::Less
    } else if ask("eq")? {
        Ordering::Equal
    } else {
        Ordering::Greater
    })
}

#[test]
fn debian_order_matches_dpkg_compare_versions() {
    if strata_testkit::require_tool("dpkg").unwrap().is_none() {
        return;
    }
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut pairs = Vec::with_capacity(PAIRS);
    while pairs.len() < PAIRS {
        let a = version(&mut rng);
        let b = mutate(&mut rng, &a);
        // dpkg refuses some strings outright (a trailing '-', a revision-less hyphen); only
        // versions both sides accept are compared.
        if Scheme::Debian.parse(&a).is_none() || Scheme::Debian.parse(&b).is_none() {
            continue;
        }
        pairs.push((a, b));
    }
    // dpkg is a process per question; several threads keep the wall time down.
    let threads = 8;
    let chunks: Vec<Vec<(String, String)>> = pairs
        .chunks(PAIRS.div_ceil(threads))
        .map(<[_]>::to_vec)
        .collect();
    let (mismatches, refused): (Vec<String>, usize) = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    let mut bad = Vec::new();
                    let mut refused = 0;
                    for (a, b) in chunk {
                        let ours = Scheme::Debian.compare(a, b).unwrap();
                        match dpkg_order(a, b) {
                            None => refused += 1,
                            Some(theirs) if theirs != ours => {
                                bad.push(format!("{a} vs {b}: strata {ours:?}, dpkg {theirs:?}"))
                            }
                            Some(_) => {}
                        }
                    }
                    (bad, refused)
                })
            })
            .collect();
        let mut all = (Vec::new(), 0);
        for h in handles {
            let (bad, refused) = h.join().unwrap();
            all.0.extend(bad);
            all.1 += refused;
        }
        all
    });
    assert!(
        PAIRS - refused >= 2000,
        "dpkg refused {refused} of {PAIRS} generated pairs; too few were compared"
    );
    let equal = pairs
        .iter()
        .filter(|(a, b)| Scheme::Debian.compare(a, b) == Some(Ordering::Equal))
        .count();
    assert!(
        equal > 0 && equal < PAIRS / 2,
        "the generator should give some equal pairs, got {equal}"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {PAIRS} pairs ordered differently from dpkg:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
