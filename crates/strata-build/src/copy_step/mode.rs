//! `--chmod`: octal and symbolic modes.

use crate::error::{BuildError, Result};
use strata_dockerfile::ast::Chmod;

/// Apply `--chmod` to a file's mode.
pub fn chmod_bits(chmod: Option<&Chmod>, mode: u32, is_dir: bool) -> Result<u32> {
    match chmod {
        None => Ok(mode),
        Some(Chmod::Octal(bits)) => Ok(*bits),
        Some(Chmod::Symbolic(s)) => symbolic_mode(s, mode, is_dir),
        Some(Chmod::Unexpanded(s)) => Err(BuildError::internal(format!(
            "--chmod={s} was not expanded"
        ))),
    }
}

/// `u+x,go-w,a=r`-style modes, as chmod(1) applies them (`X` sets execute for directories
/// and for files already executable by someone).
pub fn symbolic_mode(spec: &str, mut mode: u32, is_dir: bool) -> Result<u32> {
    for clause in spec.split(',') {
        let op_pos = clause
            .find(['+', '-', '='])
            .ok_or_else(|| BuildError::internal(format!("invalid --chmod clause {clause:?}")))?;
        let (who, rest) = clause.split_at(op_pos);
        let mut mask = 0;
        for c in if who.is_empty() {
            "a".chars()
        } else {
            who.chars()
        } {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return Err(BuildError::internal(format!("invalid --chmod who {c:?}"))),
            };
        }
        let op = rest.as_bytes()[0];
        let mut bits = 0;
        for c in rest[1..].chars() {
            bits |= match c {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' if is_dir || mode & 0o111 != 0 => 0o111,
                'X' => 0,
                's' => 0o6000,
                't' => 0o1000,
                _ => {
                    return Err(BuildError::internal(format!(
                        "invalid --chmod permission {c:?}"
                    )))
                }
            };
        }
        let bits = bits & mask;
        mode = match op {
            b'+' => mode | bits,
            b'-' => mode & !bits,
            _ => (mode & !(mask & 0o777)) | bits,
        };
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolic() {
        assert_eq!(symbolic_mode("u+x", 0o644, false).unwrap(), 0o744);
        assert_eq!(symbolic_mode("go-r", 0o644, false).unwrap(), 0o600);
        assert_eq!(symbolic_mode("a=r", 0o755, false).unwrap(), 0o444);
        assert_eq!(symbolic_mode("a+X", 0o644, true).unwrap(), 0o755);
    }
}
