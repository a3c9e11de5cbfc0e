//! The stage graph: which stage depends on which (FROM an earlier stage, `COPY --from`,
//! `RUN --mount=from=`), which stages a `--target` needs, and in which order they can be
//! built — stages on the same level are independent and can run in parallel.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::ast::{Dockerfile, InstructionKind};
use crate::error::{ErrorKind, ParseError};
use crate::scope::{Base, Resolved};
use crate::span::Span;

/// Names no stage may take: they mean something else in FROM and `--from`.
pub const RESERVED_STAGE_NAMES: [&str; 2] = ["scratch", "context"];

/// How one stage uses another stage or an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    From,
    CopyFrom,
    MountFrom,
}

/// What a `--from` / `from=` value names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reference {
    Stage(usize),
    Image(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub kind: EdgeKind,
    pub to: Reference,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphStage {
    pub index: usize,
    pub name: Option<String>,
    pub base: Base,
    pub edges: Vec<Edge>,
}

impl GraphStage {
    /// Indices of the stages this one needs, sorted.
    pub fn stage_deps(&self) -> BTreeSet<usize> {
        self.edges
            .iter()
            .filter_map(|e| match e.to {
                Reference::Stage(i) => Some(i),
                Reference::Image(_) => None,
            })
            .collect()
    }
}

/// The dependency graph of a resolved Dockerfile.
#[derive(Debug, Clone, Serialize)]
pub struct StageGraph {
    pub stages: Vec<GraphStage>,
}

fn stage_err(message: String, span: Span, hint: &str) -> ParseError {
    ParseError::new(ErrorKind::Stage, message)
        .at(span)
        .with_hint(hint)
}

/// Checks stage names: no duplicates (case-insensitive), no reserved names.
pub fn check_stage_names(df: &Dockerfile) -> Result<(), ParseError> {
    let mut seen: Vec<&str> = Vec::new();
    for s in &df.stages {
        let Some(name) = s.name.as_deref() else {
            continue;
        };
        if RESERVED_STAGE_NAMES.contains(&name) {
            return Err(stage_err(
                format!("{name:?} is a reserved stage name"),
                s.span,
                "pick another AS name; scratch and context have fixed meanings",
            )
            .with_source(&df.file, &df.source));
        }
        if seen.contains(&name) {
            return Err(stage_err(
                format!("duplicate stage name {name:?}"),
                s.span,
                "stage names must be unique",
            )
            .with_source(&df.file, &df.source));
        }
        seen.push(name);
    }
    Ok(())
}

impl StageGraph {
    /// Builds the graph. `df` supplies names and source for errors; `resolved` supplies the
    /// expanded FROM and `--from` values.
    pub fn new(df: &Dockerfile, resolved: &Resolved) -> Result<StageGraph, ParseError> {
        check_stage_names(df)?;
        let lookup = |current: usize, value: &str, span: Span| -> Result<Reference, ParseError> {
            let lower = value.to_ascii_lowercase();
            if let Some(i) = resolved
                .stages
                .iter()
                .position(|s| s.name.as_deref() == Some(lower.as_str()))
            {
                return Ok(Reference::Stage(i));
            }
            if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
                return match value.parse::<usize>() {
                    Ok(i) if i < current => Ok(Reference::Stage(i)),
                    _ => Err(stage_err(
                        format!("invalid from flag value {value}: refers to current or following build stage"),
                        span,
                        "a numeric --from names an earlier stage by its position, starting at 0",
                    )),
                };
            }
            Ok(Reference::Image(value.to_string()))
        };
        let mut stages = Vec::new();
        for rs in &resolved.stages {
            let span = df.stages[rs.index].span;
            let mut edges = Vec::new();
            match &rs.base {
                Base::Stage(i) => edges.push(Edge {
                    kind: EdgeKind::From,
                    to: Reference::Stage(*i),
                    span,
                }),
                Base::Image(r) => edges.push(Edge {
                    kind: EdgeKind::From,
                    to: Reference::Image(r.clone()),
                    span,
                }),
                Base::Scratch => {}
            }
            for step in &rs.steps {
                let span = step.instruction.span;
                match &step.instruction.kind {
                    InstructionKind::Copy(c) => {
                        if let Some(from) = &c.from {
                            edges.push(Edge {
                                kind: EdgeKind::CopyFrom,
                                to: lookup(rs.index, from, span)?,
                                span,
                            });
                        }
                    }
                    InstructionKind::Run(r) => {
                        for m in &r.mounts {
                            if let Some(from) = m.from() {
                                edges.push(Edge {
                                    kind: EdgeKind::MountFrom,
                                    to: lookup(rs.index, from, span)?,
                                    span,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            for e in &edges {
                if e.to == Reference::Stage(rs.index) {
                    return Err(stage_err(
                        format!(
                            "circular dependency detected on stage: {}",
                            display_name(rs.index, &rs.name)
                        ),
                        e.span,
                        "a stage cannot copy or mount from itself",
                    )
                    .with_source(&df.file, &df.source));
                }
            }
            stages.push(GraphStage {
                index: rs.index,
                name: rs.name.clone(),
                base: rs.base.clone(),
                edges,
            });
        }
        let graph = StageGraph { stages };
        graph
            .check_cycles()
            .map_err(|e| e.with_source(&df.file, &df.source))?;
        Ok(graph)
    }

    fn check_cycles(&self) -> Result<(), ParseError> {
        // Iterative DFS with colours so deep graphs cannot overflow the stack.
        let n = self.stages.len();
        let mut colour = vec![0u8; n];
        for root in 0..n {
            if colour[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, Vec<usize>)> =
                vec![(root, self.stages[root].stage_deps().into_iter().collect())];
            colour[root] = 1;
            while let Some((node, pending)) = stack.last_mut() {
                let node = *node;
                match pending.pop() {
                    Some(dep) if colour[dep] == 1 => {
                        let s = &self.stages[node];
                        let span = s
                            .edges
                            .iter()
                            .find(|e| e.to == Reference::Stage(dep))
                            .map(|e| e.span)
                            .unwrap_or_default();
                        return Err(stage_err(
                            format!(
                                "circular dependency detected on stage: {}",
                                display_name(dep, &self.stages[dep].name)
                            ),
                            span,
                            "stages that copy from each other can never be built",
                        ));
                    }
                    Some(dep) if colour[dep] == 0 => {
                        colour[dep] = 1;
                        stack.push((dep, self.stages[dep].stage_deps().into_iter().collect()));
                    }
                    Some(_) => {}
                    None => {
                        colour[node] = 2;
                        stack.pop();
                    }
                }
            }
        }
        Ok(())
    }

    /// The stage `--target` names (case-insensitive name or index); the last stage if `None`.
    pub fn target(&self, target: Option<&str>) -> Result<usize, ParseError> {
        let Some(t) = target else {
            return Ok(self.stages.len() - 1);
        };
        let lower = t.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .ok_or_else(|| {
                let names: Vec<&str> = self
                    .stages
                    .iter()
                    .filter_map(|s| s.name.as_deref())
                    .collect();
                ParseError::new(
                    ErrorKind::Stage,
                    format!("target stage {t:?} could not be found"),
                )
                .with_hint(if names.is_empty() {
                    "no stage is named; name one with FROM <image> AS <name>".to_string()
                } else {
                    format!("stages are: {}", names.join(", "))
                })
            })
    }

    /// The stages `target` needs, itself included; the others can be skipped.
    pub fn required(&self, target: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if seen.insert(i) {
                todo.extend(self.stages[i].stage_deps());
            }
        }
        seen
    }

    /// Required stages grouped by level: every stage's dependencies are on earlier levels,
    /// so the stages of one level can be built in parallel.
    pub fn levels(&self, target: usize) -> Vec<Vec<usize>> {
        let required = self.required(target);
        let mut level = vec![0usize; self.stages.len()];
        // Dependencies always resolve to stages that finish first; iterate to a fixed
        // point in index order (acyclic, so at most n rounds).
        for _ in 0..self.stages.len() {
            let mut changed = false;
            for &i in &required {
                let l = self.stages[i]
                    .stage_deps()
                    .iter()
                    .map(|d| level[*d] + 1)
                    .max()
                    .unwrap_or(0);
                if l != level[i] {
                    level[i] = l;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let depth = required.iter().map(|i| level[*i]).max().unwrap_or(0);
        let mut out = vec![Vec::new(); depth + 1];
        for &i in &required {
            out[level[i]].push(i);
        }
        out
    }
}

/// `name` or `#index` for messages.
pub fn display_name(index: usize, name: &Option<String>) -> String {
    match name {
        Some(n) => n.clone(),
        None => format!("#{index}"),
    }
}
