//! Executing a parsed template over a [`GoValue`]: field and variable lookup, control
//! structures and pipelines, with text/template's rules (pointers looked through, a missing
//! map key `<no value>` or, in strict mode, an error).

use super::funcs::call;
use super::{Arg, GoValue, Node, Pipeline, TemplateError};

fn fail<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError::exec(msg))
}

/// Execution state: the variables in scope (innermost last) and the missing-key mode.
struct State<'a> {
    vars: Vec<(String, GoValue)>,
    strict: bool,
    out: &'a mut String,
}

pub(super) fn render(
    nodes: &[Node],
    data: &GoValue,
    strict: bool,
) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut st = State {
        vars: vec![("$".to_owned(), data.clone())],
        strict,
        out: &mut out,
    };
    st.exec(nodes, data)?;
    Ok(out)
}

impl State<'_> {
    /// Run `nodes`; variables they declare end with them, as with Go's `{{end}}`.
    fn exec(&mut self, nodes: &[Node], dot: &GoValue) -> Result<(), TemplateError> {
        let mark = self.vars.len();
        let r = self.exec_inner(nodes, dot);
        self.vars.truncate(mark);
        r
    }

    fn exec_inner(&mut self, nodes: &[Node], dot: &GoValue) -> Result<(), TemplateError> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    // A declaration or assignment prints nothing.
                    if p.vars.is_empty() {
                        self.out.push_str(&v.to_text());
                    }
                }
                Node::If(p, a, b) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p, dot)?;
                    let r = self.exec(if v.truthy() { a } else { b }, dot);
                    self.vars.truncate(mark);
                    r?
                }
                Node::With(p, a, b) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p, dot)?;
                    let r = if v.truthy() {
                        self.exec(a, &v)
                    } else {
                        self.exec(b, dot)
                    };
                    self.vars.truncate(mark);
                    r?
                }
                Node::Range(p, body, else_nodes) => self.range(p, body, else_nodes, dot)?,
            }
        }
        Ok(())
    }

    fn range(
        &mut self,
        p: &Pipeline,
        body: &[Node],
        else_nodes: &[Node],
        dot: &GoValue,
    ) -> Result<(), TemplateError> {
        // The range's own variables are set per element, not from the pipeline's value.
        let plain = Pipeline {
            vars: Vec::new(),
            assign: false,
            cmds: p.cmds.clone(),
        };
        let v = self.pipeline(&plain, dot)?;
        let elems: Vec<(GoValue, GoValue)> = match v.indirect() {
            GoValue::List(l) => l
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, e)| (GoValue::Int(i as i64), e.clone()))
                .collect(),
            GoValue::Map(m) => m
                .iter()
                .flatten()
                .map(|(k, e)| (GoValue::Str(k.clone()), e.clone()))
                .collect(),
            GoValue::Nil | GoValue::NoValue => Vec::new(),
            other => return fail(format!("range can't iterate over {}", other.to_text())),
        };
        if elems.is_empty() {
            return self.exec(else_nodes, dot);
        }
        for (key, elem) in elems {
            let mark = self.vars.len();
            match p.vars.as_slice() {
                [] => {}
                [v] => self.vars.push((v.clone(), elem.clone())),
                [k, v, ..] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), elem.clone()));
                }
            }
            let r = self.exec(body, &elem);
            self.vars.truncate(mark);
            r?;
        }
        Ok(())
    }

    fn var(&self, name: &str) -> Result<GoValue, TemplateError> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => fail(format!("undefined variable: {name}")),
        }
    }

    fn field(&self, v: &GoValue, path: &[String]) -> Result<GoValue, TemplateError> {
        let mut cur = v.clone();
        for name in path {
            cur = match cur.indirect() {
                GoValue::Struct(type_name, fields) => {
                    match fields.iter().find(|f| f.name == name.as_str()) {
                        Some(f) => f.value.clone(),
                        None => {
                            return fail(format!("can't evaluate field {name} in type {type_name}"))
                        }
                    }
                }
                GoValue::Map(m) => match m.as_ref().and_then(|m| m.get(name)) {
                    Some(x) => x.clone(),
                    None if self.strict => {
                        return fail(format!("map has no entry for key \"{name}\""))
                    }
                    None => GoValue::NoValue,
                },
                GoValue::Nil | GoValue::NoValue => {
                    return fail(format!("nil pointer evaluating {name}"))
                }
                other => {
                    return fail(format!(
                        "can't evaluate field {name} in type {}",
                        other.kind()
                    ))
                }
            };
        }
        Ok(cur)
    }

    fn arg(&mut self, a: &Arg, dot: &GoValue) -> Result<GoValue, TemplateError> {
        Ok(match a {
            Arg::Field(p) => self.field(dot, p)?,
            Arg::Var(name, p) => {
                let v = self.var(name)?;
                self.field(&v, p)?
            }
            Arg::Str(s) => GoValue::Str(s.clone()),
            Arg::Num(n) if n.fract() == 0.0 => GoValue::Int(*n as i64),
            Arg::Num(n) => GoValue::Float(*n),
            Arg::Bool(b) => GoValue::Bool(*b),
            Arg::Func(f) => call(f, Vec::new())?,
            Arg::Sub(p, sel) => {
                let v = self.pipeline(p, dot)?;
                self.field(&v, sel)?
            }
        })
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &GoValue) -> Result<GoValue, TemplateError> {
        let mut prev: Option<GoValue> = None;
        for cmd in &p.cmds {
            let (head, rest) = cmd.split_first().expect("commands are non-empty");
            let v = match head {
                Arg::Func(f) => {
                    let mut args = Vec::new();
                    for a in rest {
                        args.push(self.arg(a, dot)?);
                    }
                    args.extend(prev.take());
                    call(f, args)?
                }
                other => {
                    if !rest.is_empty() || prev.is_some() {
                        return fail(format!("can't give argument to non-function {other:?}"));
                    }
                    self.arg(other, dot)?
                }
            };
            prev = Some(v);
        }
        let v = prev.unwrap_or(GoValue::NoValue);
        if let Some(name) = p.vars.first() {
            if p.assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return fail(format!("undefined variable: {name}")),
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }
}
