//! The typed Dockerfile: stages of instructions, each with its span and typed flags.
//!
//! Words are kept as written (quotes, `$VAR` and escapes intact): expansion depends on
//! build args and the stage's scope, and happens in [`crate::scope::resolve`].

use serde::Serialize;

use crate::instructions::mount::MountSpec;
use crate::span::Span;
use crate::syntax::{Directive, Heredoc, SyntaxTree, Warning};

/// A parsed and validated Dockerfile.
#[derive(Debug, Clone, Serialize)]
pub struct Dockerfile {
    pub file: String,
    /// `ARG`s before the first `FROM`: visible in FROM lines only, unless re-declared.
    pub global_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    pub directives: Vec<Directive>,
    pub escape: char,
    pub warnings: Vec<Warning>,
    /// The untyped tree, for BuildKit-format dumps.
    #[serde(skip)]
    pub syntax: SyntaxTree,
    /// The source text, for rendering diagnostics found after parsing.
    #[serde(skip)]
    pub source: String,
}

impl Dockerfile {
    /// The stage named `name` (case-insensitive).
    pub fn stage_by_name(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// The value of a parser directive (`syntax`, `escape`, `check`).
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.syntax.directive(name)
    }

    /// The typed `# check=` directive, if present.
    pub fn check_directive(
        &self,
    ) -> Result<Option<crate::syntax::CheckDirective>, crate::ParseError> {
        self.syntax
            .check_directive()
            .map_err(|e| e.with_source(&self.file, &self.source))
    }
}

/// One build stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub index: usize,
    /// Lowercased `AS` name.
    pub name: Option<String>,
    pub from: FromSpec,
    /// The FROM instruction's span.
    pub span: Span,
    /// Instructions after FROM.
    pub instructions: Vec<Instruction>,
    /// Comment directly above FROM (BuildKit's stage doc comment).
    pub comment: Option<String>,
}

/// An instruction with where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Instruction {
    pub kind: InstructionKind,
    pub span: Span,
    /// The logical source line (continuations joined).
    pub original: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "instruction", content = "args", rename_all = "lowercase")]
pub enum InstructionKind {
    From(FromSpec),
    Run(RunSpec),
    Cmd(CommandLine),
    Label(Vec<KeyValue>),
    Maintainer(String),
    Expose(Vec<String>),
    Env(Vec<KeyValue>),
    Add(AddSpec),
    Copy(CopySpec),
    Entrypoint(CommandLine),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Arg(Vec<ArgDecl>),
    Onbuild(Onbuild),
    StopSignal(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
}

impl InstructionKind {
    /// The keyword in upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            InstructionKind::From(_) => "FROM",
            InstructionKind::Run(_) => "RUN",
            InstructionKind::Cmd(_) => "CMD",
            InstructionKind::Label(_) => "LABEL",
            InstructionKind::Maintainer(_) => "MAINTAINER",
            InstructionKind::Expose(_) => "EXPOSE",
            InstructionKind::Env(_) => "ENV",
            InstructionKind::Add(_) => "ADD",
            InstructionKind::Copy(_) => "COPY",
            InstructionKind::Entrypoint(_) => "ENTRYPOINT",
            InstructionKind::Volume(_) => "VOLUME",
            InstructionKind::User(_) => "USER",
            InstructionKind::Workdir(_) => "WORKDIR",
            InstructionKind::Arg(_) => "ARG",
            InstructionKind::Onbuild(_) => "ONBUILD",
            InstructionKind::StopSignal(_) => "STOPSIGNAL",
            InstructionKind::Healthcheck(_) => "HEALTHCHECK",
            InstructionKind::Shell(_) => "SHELL",
        }
    }
}

/// `FROM [--platform=p] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FromSpec {
    pub image: String,
    pub name: Option<String>,
    pub platform: Option<String>,
}

/// Exec (JSON array) or shell form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

impl CommandLine {
    pub fn is_empty(&self) -> bool {
        match self {
            CommandLine::Exec(v) => v.is_empty(),
            CommandLine::Shell(s) => s.is_empty(),
        }
    }
}

/// `RUN [--mount…] [--network=…] [--security=…] command`, with its heredoc files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSpec {
    pub command: CommandLine,
    pub mounts: Vec<MountSpec>,
    pub network: Option<NetworkMode>,
    pub security: Option<SecurityMode>,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityMode {
    Sandbox,
    Insecure,
}

/// One `key=value` (or legacy `key value`) pair of ENV or LABEL, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
    /// Doc comment from the line above (`# name does …` -> `does …`).
    pub comment: Option<String>,
}

/// A source of COPY/ADD: a path (pattern, URL, git ref) or an inline heredoc file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Path(String),
    Heredoc {
        name: String,
        content: String,
        expand: bool,
    },
}

/// `--chmod`: octal bits or a symbolic mode (`u+x,go-w`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Chmod {
    Octal(u32),
    Symbolic(String),
    /// Holds variables; typed once expanded.
    Unexpanded(String),
}

/// Flags shared by COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CopyFlags {
    pub chown: Option<String>,
    pub chmod: Option<Chmod>,
    pub link: bool,
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopySpec {
    pub sources: Vec<Source>,
    pub dest: String,
    /// `--from`: a stage name, stage index, or image reference.
    pub from: Option<String>,
    pub parents: bool,
    pub flags: CopyFlags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddSpec {
    pub sources: Vec<Source>,
    pub dest: String,
    pub checksum: Option<String>,
    pub keep_git_dir: Option<bool>,
    pub unpack: Option<bool>,
    pub flags: CopyFlags,
}

#[derive(Debug, Clone, Serialize)]
pub struct Onbuild {
    /// The trigger, validated; it runs in builds that use this image as a base.
    pub trigger: Box<Instruction>,
    /// The trigger's text, as stored in the image config.
    pub expression: String,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD …`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Healthcheck {
    None,
    Cmd(HealthConfig),
}

/// Durations in nanoseconds, as the image config stores them; `None` = inherit default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthConfig {
    /// `["CMD", args…]` (exec form) or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    pub interval: Option<u64>,
    pub timeout: Option<u64>,
    pub start_period: Option<u64>,
    pub start_interval: Option<u64>,
    pub retries: Option<u32>,
}
