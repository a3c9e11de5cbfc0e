//! Checks on expanded values that only make sense after expansion: EXPOSE ports and
//! STOPSIGNAL signals.

use crate::error::{ErrorKind, ParseError};
use crate::span::Span;

/// Linux signal names accepted by STOPSIGNAL (with or without the `SIG` prefix).
const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
    "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
    "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR",
];

/// `80`, `80/tcp`, `8000-8010/udp`.
pub(super) fn check_port(spec: &str, span: Span) -> Result<(), ParseError> {
    let bad = |why: &str| {
        ParseError::new(
            ErrorKind::InvalidArgument,
            format!("invalid containerPort: {spec}: {why}"),
        )
        .at(span)
        .with_hint("write PORT[-PORT][/tcp|/udp|/sctp], e.g. EXPOSE 80/tcp")
    };
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto),
        None => (spec, "tcp"),
    };
    if !matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad("unknown protocol"));
    }
    let port = |p: &str| p.parse::<u16>().ok().filter(|n| *n > 0);
    match ports.split_once('-') {
        Some((a, b)) => match (port(a), port(b)) {
            (Some(a), Some(b)) if a <= b => Ok(()),
            _ => Err(bad("invalid range")),
        },
        None if port(ports).is_some() => Ok(()),
        None => Err(bad("not a port number")),
    }
}

/// `SIGTERM`, `TERM`, `sigkill`, `9`, `SIGRTMIN+3`.
pub(super) fn check_signal(sig: &str, span: Span) -> Result<(), ParseError> {
    if sig.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n)) {
        return Ok(());
    }
    let upper = sig.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let realtime = name
        .strip_prefix("RTMIN")
        .or_else(|| name.strip_prefix("RTMAX"))
        .is_some_and(|r| {
            r.is_empty()
                || r[1..].parse::<u8>().is_ok() && (r.starts_with('+') || r.starts_with('-'))
        });
    if SIGNALS.contains(&name) || realtime {
        return Ok(());
    }
    Err(
        ParseError::new(ErrorKind::InvalidArgument, format!("invalid signal: {sig}"))
            .at(span)
            .with_hint("use a signal name like SIGTERM or a number like 15"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_signals() {
        let s = Span::default();
        for ok in ["80", "80/tcp", "53/UDP", "8000-8010/sctp", "65535"] {
            assert!(check_port(ok, s).is_ok(), "{ok}");
        }
        for bad in ["0", "80/http", "abc", "90-80", "65536", "1.2.3.4:80"] {
            assert!(check_port(bad, s).is_err(), "{bad}");
        }
        for ok in ["SIGTERM", "term", "9", "SIGRTMIN+3", "RTMAX"] {
            assert!(check_signal(ok, s).is_ok(), "{ok}");
        }
        for bad in ["SIGFOO", "0", "99", "", "RTMIN+"] {
            assert!(check_signal(bad, s).is_err(), "{bad}");
        }
    }
}
