//! The functions a `--format` template may call: docker's additions (`json`, `join`,
//! `split`, `upper`, `lower`, `title`, `pad`, `truncate`) and Go's built-ins (`index`,
//! `len`, `print`, `printf`, `println`, `not`, `and`, `or`, `eq`, `ne`, `lt`, `le`, `gt`,
//! `ge`).

use super::{GoValue, TemplateError};

fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError::exec(msg))
}

fn to_text(v: &GoValue) -> String {
    v.to_text()
}

fn kind(v: &GoValue) -> &'static str {
    v.kind()
}

fn want_args(f: &str, args: &[GoValue], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return err(format!(
            "wrong number of args for {f}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn as_str(f: &str, v: &GoValue) -> Result<String, TemplateError> {
    match v.indirect() {
        GoValue::Str(s) => Ok(s.clone()),
        GoValue::Int(_) | GoValue::Number(_) | GoValue::Float(_) | GoValue::Bool(_) => {
            Ok(to_text(v))
        }
        _ => err(format!("{f}: expected a string, got a {}", kind(v))),
    }
}

fn as_f64(v: &GoValue) -> Option<f64> {
    match v.indirect() {
        GoValue::Int(n) | GoValue::Duration(n) => Some(*n as f64),
        GoValue::Float(f) => Some(*f),
        GoValue::Number(n) => n.parse().ok(),
        _ => None,
    }
}

fn as_int(f: &str, v: &GoValue) -> Result<i64, TemplateError> {
    as_f64(v)
        .map(|x| x as i64)
        .ok_or_else(|| TemplateError::exec(format!("{f}: expected a number")))
}

fn compare(a: &GoValue, b: &GoValue) -> Option<std::cmp::Ordering> {
    match (a.indirect(), b.indirect()) {
        (GoValue::Str(x), GoValue::Str(y)) => Some(x.cmp(y)),
        (GoValue::Bool(x), GoValue::Bool(y)) => Some(x.cmp(y)),
        (x, y) => as_f64(x)?.partial_cmp(&as_f64(y)?),
    }
}

pub(super) fn call(f: &str, args: Vec<GoValue>) -> Result<GoValue, TemplateError> {
    let s = |v: String| Ok(GoValue::Str(v));
    match f {
        "json" => {
            want_args(f, &args, 1)?;
            s(args[0].to_json(None))
        }
        "upper" => {
            want_args(f, &args, 1)?;
            s(as_str(f, &args[0])?.to_uppercase())
        }
        "lower" => {
            want_args(f, &args, 1)?;
            s(as_str(f, &args[0])?.to_lowercase())
        }
        "title" => {
            want_args(f, &args, 1)?;
            let t = as_str(f, &args[0])?;
            let mut out = String::new();
            let mut start = true;
            for c in t.chars() {
                out.extend(if start {
                    c.to_uppercase().collect::<Vec<_>>()
                } else {
                    vec![c]
                });
                start = !c.is_alphanumeric();
            }
            s(out)
        }
        "join" => {
            want_args(f, &args, 2)?;
            let sep = as_str(f, &args[1])?;
            match args[0].indirect() {
                GoValue::List(a) => s(a
                    .iter()
                    .flatten()
                    .map(to_text)
                    .collect::<Vec<_>>()
                    .join(&sep)),
                GoValue::Nil | GoValue::NoValue => s(String::new()),
                other => err(format!("join: expected a list, got a {}", kind(other))),
            }
        }
        "split" => {
            want_args(f, &args, 2)?;
            let (t, sep) = (as_str(f, &args[0])?, as_str(f, &args[1])?);
            Ok(GoValue::List(Some(
                t.split(sep.as_str())
                    .map(|p| GoValue::Str(p.into()))
                    .collect(),
            )))
        }
        "pad" => {
            want_args(f, &args, 3)?;
            let t = as_str(f, &args[0])?;
            let (l, r) = (
                as_int(f, &args[1])?.max(0) as usize,
                as_int(f, &args[2])?.max(0) as usize,
            );
            s(format!("{}{t}{}", " ".repeat(l), " ".repeat(r)))
        }
        "truncate" => {
            want_args(f, &args, 2)?;
            let t = as_str(f, &args[0])?;
            let n = as_int(f, &args[1])?.max(0) as usize;
            s(t.chars().take(n).collect())
        }
        "len" => {
            want_args(f, &args, 1)?;
            let n = match args[0].indirect() {
                GoValue::Str(t) => t.len(),
                GoValue::List(a) => a.as_ref().map_or(0, Vec::len),
                GoValue::Map(m) => m.as_ref().map_or(0, |m| m.len()),
                other => return err(format!("len of {}", kind(other))),
            };
            Ok(GoValue::Int(n as i64))
        }
        "index" => {
            if args.is_empty() {
                return err("wrong number of args for index: want at least 1");
            }
            let mut it = args.into_iter();
            let mut cur = it.next().expect("checked");
            for k in it {
                cur = match (cur.indirect(), k.indirect()) {
                    (GoValue::Map(m), GoValue::Str(key)) => m
                        .as_ref()
                        .and_then(|m| m.get(key))
                        .cloned()
                        .unwrap_or(GoValue::NoValue),
                    (GoValue::List(a), GoValue::Int(_) | GoValue::Number(_)) => {
                        let i = as_int(f, &k)?;
                        a.iter()
                            .flatten()
                            .nth(usize::try_from(i).unwrap_or(usize::MAX))
                            .cloned()
                            .ok_or_else(|| {
                                TemplateError::exec(format!("index out of range: {i}"))
                            })?
                    }
                    (GoValue::Nil | GoValue::NoValue, _) => GoValue::NoValue,
                    _ => return err(format!("can't index a {} with {}", kind(&cur), to_text(&k))),
                };
            }
            Ok(cur)
        }
        "print" => s(args.iter().map(to_text).collect::<Vec<_>>().join("")),
        "println" => s(format!(
            "{}\n",
            args.iter().map(to_text).collect::<Vec<_>>().join(" ")
        )),
        "printf" => {
            let (fmt, rest) = args
                .split_first()
                .ok_or_else(|| TemplateError::exec("printf: missing format"))?;
            s(printf(&as_str(f, fmt)?, rest)?)
        }
        "not" => {
            want_args(f, &args, 1)?;
            Ok(GoValue::Bool(!args[0].truthy()))
        }
        "and" => Ok(args
            .iter()
            .find(|v| !v.truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(GoValue::NoValue)),
        "or" => Ok(args
            .iter()
            .find(|v| v.truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(GoValue::NoValue)),
        "eq" => {
            let (first, rest) = args
                .split_first()
                .ok_or_else(|| TemplateError::exec("eq: missing arguments"))?;
            Ok(GoValue::Bool(rest.iter().any(|v| {
                v == first || compare(v, first) == Some(std::cmp::Ordering::Equal)
            })))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want_args(f, &args, 2)?;
            use std::cmp::Ordering::*;
            let o = compare(&args[0], &args[1]);
            if f == "ne" {
                return Ok(GoValue::Bool(args[0] != args[1] && o != Some(Equal)));
            }
            let o = o.ok_or_else(|| {
                TemplateError::exec(format!("{f}: incompatible types for comparison"))
            })?;
            Ok(GoValue::Bool(match f {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        _ => err(format!("function {f:?} not defined")),
    }
}

fn printf(fmt: &str, args: &[GoValue]) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars
            .next()
            .ok_or_else(|| TemplateError::exec("printf: trailing %"))?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let v = it
            .next()
            .ok_or_else(|| TemplateError::exec(format!("printf: missing argument for %{verb}")))?;
        match verb {
            's' | 'v' => out.push_str(&to_text(v)),
            'd' => out.push_str(&as_int("printf", v)?.to_string()),
            'q' => out.push_str(&serde_json::to_string(&to_text(v)).expect("string serialises")),
            other => {
                return err(format!(
                    "printf: verb %{other} is not supported (use %s, %v, %d, %q)"
                ))
            }
        }
    }
    Ok(out)
}
