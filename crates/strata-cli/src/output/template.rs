//! A subset of Go's text/template, as docker users type it in `--format`:
//! `{{.Field.Sub}}`, pipelines (`{{.Name | upper}}`), parenthesised calls, `{{range}}`,
//! `{{if}}`/`{{else}}`/`{{else if}}`, `{{with}}`, `{{- trim -}}` markers, comments and the
//! functions docker adds (`json`, `join`, `split`, `upper`, `lower`, `title`, `pad`,
//! `truncate`, `println`) plus Go's `index`, `len`, `print`, `printf`, `eq`, `ne`, `not`,
//! `and`, `or`. Data is `serde_json::Value`. Anything else (variables, `define`, `template`)
//! is a parse error naming it, never silently ignored.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// `.A.B` (empty path: `.`), optionally applied to a parenthesised pipeline.
    Field(Vec<String>),
    Str(String),
    Num(f64),
    Bool(bool),
    Func(String),
    Sub(Pipeline, Vec<String>),
}

type Pipeline = Vec<Vec<Arg>>;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

/// A template error (parse or execution), naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template: {}", self.0)
    }
}

impl std::error::Error for TemplateError {}

fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

enum Item {
    Text(String),
    Action(String),
}

/// Split into text and `{{…}}` actions, applying `{{-` / `-}}` whitespace trimming.
fn split(src: &str) -> Result<Vec<Item>, TemplateError> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_owned();
        if trim_next {
            text = text.trim_start().to_owned();
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError(format!("unclosed action in {src:?}")))?;
        let mut inner = &after[..end];
        if inner.starts_with("- ") || inner == "-" {
            text = text.trim_end().to_owned();
            inner = &inner[1..];
        }
        trim_next = false;
        if inner.ends_with(" -") {
            trim_next = true;
            inner = &inner[..inner.len() - 1];
        }
        if !text.is_empty() {
            items.push(Item::Text(text));
        }
        items.push(Item::Action(inner.trim().to_owned()));
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        items.push(Item::Text(text.to_owned()));
    }
    Ok(items)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Str(String),
    Num(f64),
    Ident(String),
    Pipe,
    Open,
    Close,
}

fn lex(s: &str) -> Result<Vec<Tok>, TemplateError> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '|' {
            out.push(Tok::Pipe);
            i += 1;
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
            // `(…).Field` selects from the parenthesised result.
            if i < b.len() && b[i] == '.' {
                let start = i;
                while i < b.len() && !b[i].is_whitespace() && !"|()".contains(b[i]) {
                    i += 1;
                }
                let path: String = b[start..i].iter().collect();
                out.push(Tok::Field(
                    path[1..].split('.').map(str::to_owned).collect(),
                ));
            }
        } else if c == '.' {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '.') {
                i += 1;
            }
            let path: String = b[start + 1..i].iter().collect();
            let parts = if path.is_empty() {
                Vec::new()
            } else {
                path.split('.').map(str::to_owned).collect::<Vec<_>>()
            };
            if parts.iter().any(String::is_empty) {
                return err(format!("bad field path .{path}"));
            }
            out.push(Tok::Field(parts));
        } else if c == '"' {
            let mut v = String::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return err(format!("unterminated string in {s:?}")),
                    Some('"') => break,
                    Some('\\') => {
                        i += 1;
                        match b.get(i) {
                            Some('n') => v.push('\n'),
                            Some('t') => v.push('\t'),
                            Some('\\') => v.push('\\'),
                            Some('"') => v.push('"'),
                            other => {
                                return err(format!("unsupported escape \\{other:?} in {s:?}"))
                            }
                        }
                    }
                    Some(ch) => v.push(*ch),
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(v));
        } else if c == '`' {
            let start = i + 1;
            let end = b[start..]
                .iter()
                .position(|&x| x == '`')
                .ok_or_else(|| TemplateError(format!("unterminated raw string in {s:?}")))?;
            out.push(Tok::Str(b[start..start + end].iter().collect()));
            i = start + end + 1;
        } else if c.is_ascii_digit()
            || (c == '-' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                i += 1;
            }
            let n: String = b[start..i].iter().collect();
            out.push(Tok::Num(
                n.parse()
                    .map_err(|_| TemplateError(format!("bad number {n}")))?,
            ));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else if c == '$' {
            return err("variables ($) are not supported in --format templates");
        } else {
            return err(format!("unexpected {c:?} in {{{{{s}}}}}"));
        }
    }
    Ok(out)
}

const FUNCS: &[&str] = &[
    "json", "join", "split", "upper", "lower", "title", "pad", "truncate", "println", "print",
    "printf", "index", "len", "eq", "ne", "not", "and", "or", "lt", "le", "gt", "ge",
];

fn parse_pipeline(toks: &[Tok], pos: &mut usize) -> Result<Pipeline, TemplateError> {
    let mut pipe: Pipeline = vec![Vec::new()];
    while *pos < toks.len() {
        let t = toks[*pos].clone();
        *pos += 1;
        let arg = match t {
            Tok::Close => {
                *pos -= 1;
                break;
            }
            Tok::Pipe => {
                pipe.push(Vec::new());
                continue;
            }
            Tok::Field(p) => Arg::Field(p),
            Tok::Str(s) => Arg::Str(s),
            Tok::Num(n) => Arg::Num(n),
            Tok::Ident(id) => match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => return err("nil is not a command"),
                f if FUNCS.contains(&f) => Arg::Func(id),
                _ => return err(format!("function {id:?} not defined")),
            },
            Tok::Open => {
                let inner = parse_pipeline(toks, pos)?;
                if toks.get(*pos) != Some(&Tok::Close) {
                    return err("unclosed parenthesis");
                }
                *pos += 1;
                let sel = match toks.get(*pos) {
                    Some(Tok::Field(p)) if !p.is_empty() => {
                        *pos += 1;
                        p.clone()
                    }
                    _ => Vec::new(),
                };
                Arg::Sub(inner, sel)
            }
        };
        pipe.last_mut().expect("non-empty").push(arg);
    }
    if pipe.iter().any(Vec::is_empty) {
        return err("missing value for command");
    }
    Ok(pipe)
}

fn parse_action(s: &str) -> Result<Pipeline, TemplateError> {
    let toks = lex(s)?;
    let mut pos = 0;
    let p = parse_pipeline(&toks, &mut pos)?;
    if pos != toks.len() {
        return err(format!("unexpected ) in {{{{{s}}}}}"));
    }
    Ok(p)
}

/// Parse nodes until `end`/`else`; returns the nodes and the terminating keyword action.
fn parse_nodes(
    items: &mut std::iter::Peekable<std::vec::IntoIter<Item>>,
    nested: bool,
) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some(item) = items.next() {
        let a = match item {
            Item::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Item::Action(a) => a,
        };
        if a.starts_with("/*") {
            continue;
        }
        let (kw, rest) = a
            .split_once(char::is_whitespace)
            .unwrap_or((a.as_str(), ""));
        match kw {
            "end" | "else" => {
                if !nested {
                    return err(format!("unexpected {{{{{kw}}}}}"));
                }
                return Ok((nodes, Some(a.clone())));
            }
            "if" | "range" | "with" => nodes.push(parse_block(kw, rest, items)?),
            "define" | "template" | "block" | "break" | "continue" => {
                return err(format!(
                    "{{{{{kw}}}}} is not supported in --format templates"
                ))
            }
            _ => nodes.push(Node::Action(parse_action(&a)?)),
        }
    }
    if nested {
        return err("unexpected end of template: missing {{end}}");
    }
    Ok((nodes, None))
}

fn parse_block(
    kw: &str,
    rest: &str,
    items: &mut std::iter::Peekable<std::vec::IntoIter<Item>>,
) -> Result<Node, TemplateError> {
    let pipe = parse_action(rest)?;
    let (body, term) = parse_nodes(items, true)?;
    let term = term.expect("nested parse ends at a keyword");
    let else_nodes = if term == "end" {
        Vec::new()
    } else if term == "else" {
        let (e, t) = parse_nodes(items, true)?;
        if t.as_deref() != Some("end") {
            return err("expected {{end}} after {{else}}");
        }
        e
    } else if let Some(cond) = term.strip_prefix("else if ") {
        // `{{else if x}}` is an `if` nested in the else branch sharing the outer `{{end}}`.
        vec![parse_block("if", cond, items)?]
    } else {
        return err(format!("unexpected {{{{{term}}}}}"));
    };
    Ok(match kw {
        "if" => Node::If(pipe, body, else_nodes),
        "range" => Node::Range(pipe, body, else_nodes),
        _ => Node::With(pipe, body, else_nodes),
    })
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut items = split(src)?.into_iter().peekable();
        let (nodes, _) = parse_nodes(&mut items, false)?;
        Ok(Template { nodes })
    }

    /// Execute against `data`.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

fn exec(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => out.push_str(&to_text(&eval_pipeline(p, dot)?)),
            Node::If(p, a, b) => exec(
                if truthy(&eval_pipeline(p, dot)?) {
                    a
                } else {
                    b
                },
                dot,
                out,
            )?,
            Node::With(p, a, b) => {
                let v = eval_pipeline(p, dot)?;
                if truthy(&v) {
                    exec(a, &v, out)?
                } else {
                    exec(b, dot, out)?
                }
            }
            Node::Range(p, body, else_nodes) => {
                let v = eval_pipeline(p, dot)?;
                let elems: Vec<Value> = match v {
                    Value::Array(a) => a,
                    Value::Object(o) => {
                        let mut kv: Vec<(String, Value)> = o.into_iter().collect();
                        kv.sort_by(|a, b| a.0.cmp(&b.0));
                        kv.into_iter().map(|(_, v)| v).collect()
                    }
                    Value::Null => Vec::new(),
                    other => return err(format!("range can't iterate over {}", to_text(&other))),
                };
                if elems.is_empty() {
                    exec(else_nodes, dot, out)?;
                }
                for e in &elems {
                    exec(body, e, out)?;
                }
            }
        }
    }
    Ok(())
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn field(v: &Value, path: &[String]) -> Result<Value, TemplateError> {
    let mut cur = v.clone();
    for p in path {
        cur = match cur {
            Value::Object(mut o) => match o.remove(p) {
                Some(x) => x,
                None => return err(format!("can't evaluate field {p}")),
            },
            Value::Null => return Ok(Value::Null),
            _ => return err(format!("can't evaluate field {p} in a {}", kind(&cur))),
        };
    }
    Ok(cur)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn eval_arg(a: &Arg, dot: &Value) -> Result<Value, TemplateError> {
    Ok(match a {
        Arg::Field(p) => field(dot, p)?,
        Arg::Str(s) => Value::String(s.clone()),
        Arg::Num(n) => serde_json::Number::from_f64(*n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Func(f) => call(f, Vec::new())?,
        Arg::Sub(p, sel) => field(&eval_pipeline(p, dot)?, sel)?,
    })
}

fn eval_pipeline(p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
    let mut prev: Option<Value> = None;
    for cmd in p {
        let mut args = Vec::new();
        let (head, rest) = cmd.split_first().expect("commands are non-empty");
        let v = match head {
            Arg::Func(f) => {
                for a in rest {
                    args.push(eval_arg(a, dot)?);
                }
                args.extend(prev.take());
                call(f, args)?
            }
            other => {
                if !rest.is_empty() || prev.is_some() {
                    return err(format!("can't give argument to non-function {other:?}"));
                }
                eval_arg(other, dot)?
            }
        };
        prev = Some(v);
    }
    Ok(prev.unwrap_or(Value::Null))
}

/// How Go prints a value with `%v`.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(to_text).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => {
            let mut kv: Vec<_> = o.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = kv
                .iter()
                .map(|(k, v)| format!("{k}:{}", to_text(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn want_args(f: &str, args: &[Value], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return err(format!(
            "wrong number of args for {f}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn as_str(f: &str, v: &Value) -> Result<String, TemplateError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(to_text(v)),
        _ => err(format!("{f}: expected a string, got a {}", kind(v))),
    }
}

fn as_int(f: &str, v: &Value) -> Result<i64, TemplateError> {
    v.as_f64()
        .map(|x| x as i64)
        .ok_or_else(|| TemplateError(format!("{f}: expected a number")))
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn call(f: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
    let s = |v: String| Ok(Value::String(v));
    match f {
        "json" => {
            want_args(f, &args, 1)?;
            s(serde_json::to_string(&args[0]).expect("json value serialises"))
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
            match &args[0] {
                Value::Array(a) => s(a.iter().map(to_text).collect::<Vec<_>>().join(&sep)),
                Value::Null => s(String::new()),
                other => err(format!("join: expected a list, got a {}", kind(other))),
            }
        }
        "split" => {
            want_args(f, &args, 2)?;
            let (t, sep) = (as_str(f, &args[0])?, as_str(f, &args[1])?);
            Ok(Value::Array(
                t.split(sep.as_str())
                    .map(|p| Value::String(p.into()))
                    .collect(),
            ))
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
            let n = match &args[0] {
                Value::String(t) => t.len(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::Null => 0,
                other => return err(format!("len of {}", kind(other))),
            };
            Ok(Value::from(n as u64))
        }
        "index" => {
            if args.is_empty() {
                return err("wrong number of args for index: want at least 1");
            }
            let mut it = args.into_iter();
            let mut cur = it.next().expect("checked");
            for k in it {
                cur = match (&cur, &k) {
                    (Value::Object(o), Value::String(key)) => {
                        o.get(key).cloned().unwrap_or(Value::Null)
                    }
                    (Value::Array(a), Value::Number(_)) => {
                        let i = as_int(f, &k)?;
                        a.get(usize::try_from(i).unwrap_or(usize::MAX))
                            .cloned()
                            .ok_or_else(|| TemplateError(format!("index out of range: {i}")))?
                    }
                    (Value::Null, _) => Value::Null,
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
                .ok_or_else(|| TemplateError("printf: missing format".into()))?;
            s(printf(&as_str(f, fmt)?, rest)?)
        }
        "not" => {
            want_args(f, &args, 1)?;
            Ok(Value::Bool(!truthy(&args[0])))
        }
        "and" => Ok(args
            .iter()
            .find(|v| !truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null)),
        "or" => Ok(args
            .iter()
            .find(|v| truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null)),
        "eq" => {
            let (first, rest) = args
                .split_first()
                .ok_or_else(|| TemplateError("eq: missing arguments".into()))?;
            Ok(Value::Bool(rest.iter().any(|v| {
                v == first || compare(v, first) == Some(std::cmp::Ordering::Equal)
            })))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want_args(f, &args, 2)?;
            use std::cmp::Ordering::*;
            let o = compare(&args[0], &args[1]);
            if f == "ne" {
                return Ok(Value::Bool(args[0] != args[1] && o != Some(Equal)));
            }
            let o =
                o.ok_or_else(|| TemplateError(format!("{f}: incompatible types for comparison")))?;
            Ok(Value::Bool(match f {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        _ => err(format!("function {f:?} not defined")),
    }
}

fn printf(fmt: &str, args: &[Value]) -> Result<String, TemplateError> {
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
            .ok_or_else(|| TemplateError("printf: trailing %".into()))?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let v = it
            .next()
            .ok_or_else(|| TemplateError(format!("printf: missing argument for %{verb}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v).unwrap()
    }

    #[test]
    fn fields_functions_and_pipelines() {
        let v = json!({"Repository": "busybox", "Tag": "latest", "Labels": {"a": "1"},
                       "Tags": ["x", "y"], "Size": 42, "Empty": ""});
        assert_eq!(r("{{.Repository}}:{{.Tag}}", &v), "busybox:latest");
        assert_eq!(r("{{.Repository | upper}}", &v), "BUSYBOX");
        assert_eq!(
            r("{{upper .Repository}} {{lower \"AB\"}}", &v),
            "BUSYBOX ab"
        );
        assert_eq!(r("{{json .Labels}}", &v), r#"{"a":"1"}"#);
        assert_eq!(r("{{index .Labels \"a\"}}", &v), "1");
        assert_eq!(r("{{join .Tags \", \"}}", &v), "x, y");
        assert_eq!(
            r("{{.Tags}} {{.Labels}} {{.Size}}", &v),
            "[x y] map[a:1] 42"
        );
        assert_eq!(r("{{len .Tags}}", &v), "2");
        assert_eq!(r("{{printf \"%s=%d\" .Tag .Size}}", &v), "latest=42");
        assert_eq!(r("{{(index .Tags 1) | upper}}", &v), "Y");
        assert_eq!(r("{{println .Tag}}", &v), "latest\n");
        assert_eq!(r("{{title \"hello world\"}}", &v), "Hello World");
    }

    #[test]
    fn control_flow() {
        let v = json!({"Tags": ["a", "b"], "None": [], "Name": "n", "Cfg": {"User": "root"}});
        assert_eq!(r("{{range .Tags}}<{{.}}>{{end}}", &v), "<a><b>");
        assert_eq!(r("{{range .None}}x{{else}}empty{{end}}", &v), "empty");
        assert_eq!(r("{{if .Name}}yes{{else}}no{{end}}", &v), "yes");
        assert_eq!(
            r(
                "{{if .None}}1{{else if eq .Name \"n\"}}2{{else}}3{{end}}",
                &v
            ),
            "2"
        );
        assert_eq!(r("{{with .Cfg}}{{.User}}{{end}}", &v), "root");
        assert_eq!(r("a  {{- .Name -}}  b", &v), "anb");
        assert_eq!(r("{{/* comment */}}x", &v), "x");
    }

    #[test]
    fn errors_name_the_problem() {
        let v = json!({"A": 1});
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{nosuch .A}}")
            .unwrap_err()
            .0
            .contains("nosuch"));
        assert!(Template::parse("{{if .A}}x").is_err());
        assert!(Template::parse("{{$x := .A}}")
            .unwrap_err()
            .0
            .contains("variables"));
        assert!(Template::parse("{{end}}").is_err());
        let e = Template::parse("{{.B}}").unwrap().render(&v).unwrap_err();
        assert!(e.0.contains("field B"), "{e}");
    }
}
