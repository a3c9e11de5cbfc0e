//! The number formats dive's output uses, reproduced so reports read the same: go-humanize's
//! `Bytes` (SI units) and `ParseBytes`, and Go's `%v` for a float64.

/// go-humanize `Bytes`: SI units (1000), one decimal below 10 of a unit (`1.2 kB`, `12 MB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n} B");
    }
    let f = n as f64;
    let e = (f.ln() / 1000f64.ln()).floor();
    let e = e.clamp(0.0, (UNITS.len() - 1) as f64);
    let val = (f / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    let unit = UNITS[e as usize];
    if val < 10.0 {
        format!("{val:.1} {unit}")
    } else {
        format!("{val:.0} {unit}")
    }
}

/// go-humanize `ParseBytes`: a number (commas allowed) and an optional unit, case-insensitive:
/// `b`, `k`/`kb` (1000), `ki`/`kib` (1024), up to exabytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let digits = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
        .map_or(s.len(), |(i, _)| i);
    let num: String = s[..digits].chars().filter(|&c| c != ',').collect();
    let f: f64 = num
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {num:?}: invalid syntax"))?;
    let unit = s[digits..].trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1000u64.pow(2),
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1000u64.pow(3),
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1000u64.pow(4),
        "ti" | "tib" => 1 << 40,
        "p" | "pb" => 1000u64.pow(5),
        "pi" | "pib" => 1 << 50,
        "e" | "eb" => 1000u64.pow(6),
        "ei" | "eib" => 1 << 60,
        other => return Err(format!("unhandled size name: {other}")),
    };
    let v = f * mult as f64;
    if v >= u64::MAX as f64 {
        return Err(format!("too large: {s}"));
    }
    Ok(v as u64)
}

/// Go's `%v` for a float64: shortest round-trip digits, exponent form when the exponent is
/// below -4 or at least 6 (`1e-05`, `1.234567e+06`), `NaN`, `+Inf`, `-Inf`.
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the shortest round-trip mantissa, e.g. "1.2345e-5".
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{v}")
}

/// `%2.4f` of `ratio × 100`, as dive prints percentages (`+Inf`, `NaN` as Go spells them).
pub fn go_percent(ratio: f64) -> String {
    let v = ratio * 100.0;
    if v.is_nan() || v.is_infinite() {
        return go_float(v);
    }
    format!("{v:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_matches_go_humanize() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(9), "9 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1000), "1.0 kB");
        assert_eq!(human_bytes(1234), "1.2 kB");
        assert_eq!(human_bytes(12_345_678), "12 MB");
        assert_eq!(human_bytes(9_960_000), "10 MB");
    }

    #[test]
    fn parse_bytes_matches_go_humanize() {
        assert_eq!(parse_bytes("20MB"), Ok(20_000_000));
        assert_eq!(parse_bytes("20 MiB"), Ok(20 << 20));
        assert_eq!(parse_bytes("1,000"), Ok(1000));
        assert_eq!(parse_bytes("1.5k"), Ok(1500));
        assert!(parse_bytes("20 bananas").is_err());
        assert!(parse_bytes("disabled").is_err());
    }

    #[test]
    fn go_float_matches_percent_v() {
        assert_eq!(go_float(0.9), "0.9");
        assert_eq!(go_float(0.123456789), "0.123456789");
        assert_eq!(go_float(1e-5), "1e-05");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
        assert_eq!(go_percent(0.984285), "98.4285");
    }
}
