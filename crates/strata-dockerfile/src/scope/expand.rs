//! Expansion of one instruction's words within a stage scope.

use std::collections::BTreeSet;

use super::{set, ScopeEnv};
use crate::ast::*;
use crate::error::{ErrorKind, ParseError};
use crate::instructions::flags::parse_chmod;
use crate::instructions::mount::{parse_mount_expanded, MountSpec};
use crate::shell::{Env, Expansion, Lexer};
use crate::span::Span;

fn shell_error(e: crate::shell::ShellError, span: Span) -> ParseError {
    ParseError::new(ErrorKind::Expansion, e.to_string())
        .at(span)
        .with_hint("check the ${…} syntax, or pass the variable with --build-arg")
}

/// Expands one word (quotes removed).
pub(super) fn word(
    lexer: &Lexer,
    w: &str,
    env: &dyn Env,
    span: Span,
) -> Result<Expansion, ParseError> {
    lexer.process_word(w, env).map_err(|e| shell_error(e, span))
}

pub(super) struct StepCtx<'a> {
    pub lexer: &'a Lexer,
    pub env: &'a mut Vec<(String, String)>,
    pub args: &'a mut Vec<(String, String)>,
    /// Every name looked up while expanding this step.
    pub used: BTreeSet<String>,
}

impl StepCtx<'_> {
    pub fn expand(&mut self, w: &str, span: Span) -> Result<String, ParseError> {
        let scope = ScopeEnv {
            env: self.env,
            args: self.args,
        };
        let e = word(self.lexer, w, &scope, span)?;
        self.used.extend(e.used);
        Ok(e.value)
    }

    fn expand_split(&mut self, w: &str, span: Span) -> Result<Vec<String>, ParseError> {
        let scope = ScopeEnv {
            env: self.env,
            args: self.args,
        };
        let (words, used) = self
            .lexer
            .process_words(w, &scope)
            .map_err(|e| shell_error(e, span))?;
        self.used.extend(used);
        Ok(words)
    }

    fn expand_raw(&mut self, content: &str, span: Span) -> Result<String, ParseError> {
        // Heredoc bodies are scripts or files: only variables are replaced, quotes stay.
        let lexer = Lexer::new(self.lexer.escape()).skip_process_quotes(true);
        let scope = ScopeEnv {
            env: self.env,
            args: self.args,
        };
        let e = lexer
            .process_word(content, &scope)
            .map_err(|e| shell_error(e, span))?;
        self.used.extend(e.used);
        Ok(e.value)
    }

    fn opt(&mut self, w: &Option<String>, span: Span) -> Result<Option<String>, ParseError> {
        w.as_ref().map(|w| self.expand(w, span)).transpose()
    }

    fn sources(&mut self, sources: &[Source], span: Span) -> Result<Vec<Source>, ParseError> {
        sources
            .iter()
            .map(|s| match s {
                Source::Path(p) => Ok(Source::Path(self.expand(p, span)?)),
                Source::Heredoc {
                    name,
                    content,
                    expand: true,
                } => Ok(Source::Heredoc {
                    name: name.clone(),
                    content: self.expand_raw(content, span)?,
                    expand: true,
                }),
                other => Ok(other.clone()),
            })
            .collect()
    }

    fn copy_flags(&mut self, f: &CopyFlags, span: Span) -> Result<CopyFlags, ParseError> {
        let chmod = match &f.chmod {
            Some(Chmod::Unexpanded(raw)) => {
                let v = self.expand(raw, span)?;
                if v.contains('$') {
                    return Err(ParseError::new(
                        ErrorKind::InvalidFlag,
                        format!("invalid chmod parameter: {v:?}"),
                    )
                    .at(span));
                }
                Some(parse_chmod(&v).map_err(|e| e.at(span))?)
            }
            other => other.clone(),
        };
        let exclude = f
            .exclude
            .iter()
            .map(|e| self.expand(e, span))
            .collect::<Result<_, _>>()?;
        Ok(CopyFlags {
            chown: self.opt(&f.chown, span)?,
            chmod,
            link: f.link,
            exclude,
        })
    }

    fn mount(&mut self, m: &MountSpec, span: Span) -> Result<MountSpec, ParseError> {
        match m {
            MountSpec::Unexpanded { raw } => {
                // Quotes stay: they belong to the CSV syntax of the mount value.
                let v = self.expand_raw(raw, span)?;
                parse_mount_expanded(&v).map_err(|e| e.at(span))
            }
            other => Ok(other.clone()),
        }
    }

    /// Expands the words of one instruction, updating ENV for ENV steps.
    pub fn expand_kind(
        &mut self,
        kind: &InstructionKind,
        span: Span,
    ) -> Result<InstructionKind, ParseError> {
        Ok(match kind {
            InstructionKind::Env(pairs) => {
                let mut out = Vec::new();
                for kv in pairs {
                    let key = self.expand(&kv.key, span)?;
                    let value = self.expand(&kv.value, span)?;
                    set(self.env, &key, value.clone());
                    out.push(KeyValue { key, value });
                }
                InstructionKind::Env(out)
            }
            InstructionKind::Label(pairs) => {
                let mut out = Vec::new();
                for kv in pairs {
                    out.push(KeyValue {
                        key: self.expand(&kv.key, span)?,
                        value: self.expand(&kv.value, span)?,
                    });
                }
                InstructionKind::Label(out)
            }
            InstructionKind::Expose(ports) => {
                let mut out = Vec::new();
                for p in ports {
                    out.extend(self.expand_split(p, span)?);
                }
                for p in &out {
                    super::validate::check_port(p, span)?;
                }
                InstructionKind::Expose(out)
            }
            InstructionKind::Volume(v) => InstructionKind::Volume(
                v.iter()
                    .map(|w| self.expand(w, span))
                    .collect::<Result<_, _>>()?,
            ),
            InstructionKind::User(w) => InstructionKind::User(self.expand(w, span)?),
            InstructionKind::Workdir(w) => InstructionKind::Workdir(self.expand(w, span)?),
            InstructionKind::StopSignal(w) => {
                let sig = self.expand(w, span)?;
                super::validate::check_signal(&sig, span)?;
                InstructionKind::StopSignal(sig)
            }
            InstructionKind::Copy(c) => InstructionKind::Copy(CopySpec {
                sources: self.sources(&c.sources, span)?,
                dest: self.expand(&c.dest, span)?,
                from: self.opt(&c.from, span)?,
                parents: c.parents,
                flags: self.copy_flags(&c.flags, span)?,
            }),
            InstructionKind::Add(a) => InstructionKind::Add(AddSpec {
                sources: self.sources(&a.sources, span)?,
                dest: self.expand(&a.dest, span)?,
                checksum: self.opt(&a.checksum, span)?,
                keep_git_dir: a.keep_git_dir,
                unpack: a.unpack,
                flags: self.copy_flags(&a.flags, span)?,
            }),
            InstructionKind::Run(r) => {
                let mounts = r
                    .mounts
                    .iter()
                    .map(|m| self.mount(m, span))
                    .collect::<Result<_, _>>()?;
                InstructionKind::Run(RunSpec {
                    mounts,
                    ..r.clone()
                })
            }
            // Not expanded: the shell (or the child build, for ONBUILD) does it.
            other => other.clone(),
        })
    }
}
