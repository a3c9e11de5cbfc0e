//! A subset of Go's text/template, as docker users type it in `--format`:
//! `{{.Field.Sub}}`, variables (`{{$x := .A}}`, `{{range $k, $v := .Labels}}`, `$`),
//! pipelines (`{{.Name | upper}}`), parenthesised calls, `{{range}}`,
//! `{{if}}`/`{{else}}`/`{{else if}}`, `{{with}}`, `{{- trim -}}` markers, comments and the
//! functions docker adds (`json`, `join`, `split`, `upper`, `lower`, `title`, `pad`,
//! `truncate`, `println`) plus Go's `index`, `len`, `print`, `printf`, `eq`, `ne`, `not`,
//! `and`, `or`. Data is a [`GoValue`], so structs, maps, nil slices and pointers print as
//! docker prints them. Anything else (`define`, `template`, `block`) is a parse error
//! naming it, never silently ignored.
//!
//! Parsing is here; execution in `exec.rs`, the functions in `funcs.rs`.

mod exec;
mod funcs;

use super::go_value::GoValue;

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// `.A.B` (empty path: `.`), optionally applied to a parenthesised pipeline.
    Field(Vec<String>),
    /// `$name.A.B` (`$` alone is the data the template was given).
    Var(String, Vec<String>),
    Str(String),
    Num(f64),
    Bool(bool),
    Func(String),
    Sub(Pipeline, Vec<String>),
}

/// A pipeline: optional variable declaration (`$x :=`) or assignment (`$x =`), then
/// commands joined by `|`.
#[derive(Debug, Clone, PartialEq, Default)]
struct Pipeline {
    vars: Vec<String>,
    assign: bool,
    cmds: Vec<Vec<Arg>>,
}

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

impl TemplateError {
    fn parse(message: String) -> TemplateError {
        TemplateError(message)
    }

    /// An error met while executing the template.
    pub(crate) fn exec(message: impl Into<String>) -> TemplateError {
        TemplateError(message.into())
    }
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template: {}", self.0)
    }
}

impl std::error::Error for TemplateError {}

/// A parse error.
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
            .ok_or_else(|| TemplateError::parse(format!("unclosed action in {src:?}")))?;
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
    Var(String, Vec<String>),
    Declare,
    Assign,
    Comma,
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
                .ok_or_else(|| TemplateError::parse(format!("unterminated raw string in {s:?}")))?;
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
                    .map_err(|_| TemplateError::parse(format!("bad number {n}")))?,
            ));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else if c == '$' {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            let name: String = b[start..i].iter().collect();
            let mut path = Vec::new();
            while i < b.len() && b[i] == '.' {
                let s0 = i + 1;
                i += 1;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
                if i == s0 {
                    return err(format!("bad field path after {name}"));
                }
                path.push(b[s0..i].iter().collect());
            }
            out.push(Tok::Var(name, path));
        } else if c == ':' && b.get(i + 1) == Some(&'=') {
            out.push(Tok::Declare);
            i += 2;
        } else if c == '=' {
            out.push(Tok::Assign);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
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

/// `$a :=`, `$a, $b :=` or `$a =` at the start of a pipeline.
fn parse_declaration(toks: &[Tok], pos: &mut usize) -> Result<(Vec<String>, bool), TemplateError> {
    let mut vars = Vec::new();
    let mut i = *pos;
    loop {
        match toks.get(i) {
            Some(Tok::Var(name, path)) if path.is_empty() => vars.push(name.clone()),
            _ => return Ok((Vec::new(), false)),
        }
        i += 1;
        match toks.get(i) {
            Some(Tok::Comma) if vars.len() < 2 => i += 1,
            Some(Tok::Declare) | Some(Tok::Assign) => {
                let assign = toks[i] == Tok::Assign;
                *pos = i + 1;
                if vars.iter().any(|v| v == "$") {
                    return err("cannot declare or assign $");
                }
                return Ok((vars, assign));
            }
            _ => return Ok((Vec::new(), false)),
        }
    }
}

fn parse_pipeline(toks: &[Tok], pos: &mut usize) -> Result<Pipeline, TemplateError> {
    let (vars, assign) = parse_declaration(toks, pos)?;
    let mut cmds: Vec<Vec<Arg>> = vec![Vec::new()];
    while *pos < toks.len() {
        let t = toks[*pos].clone();
        *pos += 1;
        let arg = match t {
            Tok::Close => {
                *pos -= 1;
                break;
            }
            Tok::Pipe => {
                cmds.push(Vec::new());
                continue;
            }
            Tok::Declare | Tok::Assign | Tok::Comma => {
                return err("unexpected declaration or comma in command")
            }
            Tok::Var(name, path) => Arg::Var(name, path),
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
        cmds.last_mut().expect("non-empty").push(arg);
    }
    if cmds.iter().any(Vec::is_empty) {
        return err("missing value for command");
    }
    Ok(Pipeline { vars, assign, cmds })
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

    /// Execute against `data`; a missing map key yields `<no value>`.
    pub fn render(&self, data: &GoValue) -> Result<String, TemplateError> {
        exec::render(&self.nodes, data, false)
    }

    /// Execute with Go's `missingkey=error`: a missing map key is an error.
    pub fn render_strict(&self, data: &GoValue) -> Result<String, TemplateError> {
        exec::render(&self.nodes, data, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn r(t: &str, v: &Value) -> String {
        Template::parse(t)
            .unwrap()
            .render(&GoValue::from_raw_json(v))
            .unwrap()
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
        assert!(Template::parse("{{end}}").is_err());
        let e = Template::parse("{{.B}}")
            .unwrap()
            .render(&GoValue::from_row(&v))
            .unwrap_err();
        assert!(e.0.contains("field B"), "{e}");
        let e = Template::parse("{{.B}}")
            .unwrap()
            .render_strict(&GoValue::from_raw_json(&v))
            .unwrap_err();
        assert!(e.0.contains("map has no entry for key \"B\""), "{e}");
        assert!(Template::parse("{{$x}}")
            .unwrap()
            .render(&GoValue::Nil)
            .unwrap_err()
            .0
            .contains("undefined variable: $x"));
    }

    #[test]
    fn variables() {
        let v = json!({"Labels": {"b": "2", "a": "1"}, "Tags": ["x", "y"], "Name": "n"});
        assert_eq!(
            r("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", &v),
            "a=1;b=2;"
        );
        assert_eq!(
            r("{{range $i, $t := .Tags}}{{$i}}:{{$t}} {{end}}", &v),
            "0:x 1:y "
        );
        assert_eq!(r("{{range $t := .Tags}}{{$t}}{{end}}", &v), "xy");
        assert_eq!(
            r("{{$n := .Name}}{{range .Tags}}{{$n}}{{.}}{{end}}", &v),
            "nxny"
        );
        assert_eq!(r("{{$x := 1}}{{$x = 2}}{{$x}}", &v), "2");
        assert_eq!(r("{{range .Tags}}{{$.Name}}{{end}}", &v), "nn");
        assert_eq!(r("{{with $l := .Labels}}{{$l.a}}{{end}}", &v), "1");
        assert_eq!(r("{{.Labels.zz}}", &v), "<no value>");
    }
}
