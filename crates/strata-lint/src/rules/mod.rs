//! The DL rules: hadolint's ids and levels, messages in the same spirit, evaluated over
//! the [`Model`]. Rules are plain functions grouped by what they look at:
//! [`instructions`] (one instruction at a time), [`packages`] (package managers inside
//! RUN), [`stages`] (rules that follow state through stages), [`labels`] (label schema).

mod instructions;
/// Helpers the build checks share with the DL rules.
pub(crate) mod instructions_public {
    pub(crate) use super::instructions::{is_sensitive_name, var_refs};
}
mod labels;
mod packages;
mod stages;

use crate::model::{Item, Model};
use crate::shell::Script;
use crate::{Config, Finding, Level};

/// A rule's id, default level and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    pub code: &'static str,
    pub level: Level,
    pub message: &'static str,
}

const fn r(code: &'static str, level: Level, message: &'static str) -> RuleInfo {
    RuleInfo {
        code,
        level,
        message,
    }
}

use Level::{Error as E, Ignore as I, Info as N, Style as S, Warning as W};

/// Every DL rule, in id order.
pub const RULES: &[RuleInfo] = &[
    r("DL1001", I, "Avoid inline ignore pragmas (`# hadolint ignore=DLxxxx`): fix the finding or configure the rule instead."),
    r("DL3000", E, "Use an absolute WORKDIR."),
    r("DL3001", N, "Commands like `ssh`, `vim`, `shutdown`, `service`, `ps`, `free`, `top`, `kill`, `mount` or `ifconfig` make little sense in a container build."),
    r("DL3002", W, "The last USER of an image should not be root."),
    r("DL3003", W, "Use WORKDIR to change directory instead of `cd`."),
    r("DL3004", E, "Do not use sudo: its behaviour in a build is unpredictable. Use a tool like gosu to drop privileges."),
    r("DL3006", W, "Tag the image version explicitly."),
    r("DL3007", W, "The `latest` tag changes under you: pin a release tag."),
    r("DL3008", W, "Pin versions in apt-get install: `apt-get install <package>=<version>`."),
    r("DL3009", N, "Delete the apt lists (/var/lib/apt/lists) after installing packages."),
    r("DL3010", N, "Use ADD to extract a local archive into the image instead of COPY and tar."),
    r("DL3011", E, "Valid UNIX ports are 0 to 65535."),
    r("DL3012", E, "Only one HEALTHCHECK instruction per stage takes effect."),
    r("DL3013", W, "Pin versions in pip: `pip install <package>==<version>` or `pip install --requirement <file>`."),
    r("DL3014", W, "Use `-y` with apt-get install to avoid a prompt: `apt-get -y install <package>`."),
    r("DL3015", N, "Avoid extra packages: use `apt-get install --no-install-recommends`."),
    r("DL3016", W, "Pin versions in npm: `npm install <package>@<version>`."),
    r("DL3018", W, "Pin versions in apk add: `apk add <package>=<version>`."),
    r("DL3019", N, "Use `apk add --no-cache` instead of `--update` and removing /var/cache/apk/* afterwards."),
    r("DL3020", E, "Use COPY instead of ADD for files and directories."),
    r("DL3021", E, "COPY with more than two arguments needs a destination ending in /."),
    r("DL3022", W, "`COPY --from` should name a stage defined earlier with FROM … AS."),
    r("DL3023", E, "`COPY --from` cannot name the stage it is in."),
    r("DL3024", E, "Stage names (FROM … AS) must be unique."),
    r("DL3025", W, "Use the JSON (exec) form for CMD and ENTRYPOINT arguments."),
    r("DL3026", E, "Use only an allowed registry in FROM images."),
    r("DL3027", W, "`apt` is meant for people at a terminal: use apt-get or apt-cache."),
    r("DL3028", W, "Pin versions in gem install: `gem install <gem>:<version>`."),
    r("DL3029", W, "Do not use FROM --platform with a constant value."),
    r("DL3030", W, "Use `-y` with yum to avoid a prompt: `yum install -y <package>`."),
    r("DL3032", W, "Run `yum clean all` after yum commands."),
    r("DL3033", W, "Pin versions in yum: `yum install -y <package>-<version>`."),
    r("DL3034", W, "Use a non-interactive switch with zypper: `zypper install -y`."),
    r("DL3035", W, "Do not use `zypper dist-upgrade` in an image build."),
    r("DL3036", W, "Run `zypper clean` after zypper commands."),
    r("DL3037", W, "Pin versions in zypper: `zypper install -y <package>=<version>`."),
    r("DL3038", W, "Use `-y` with dnf to avoid a prompt: `dnf install -y <package>`."),
    r("DL3040", W, "Run `dnf clean all` after dnf commands."),
    r("DL3041", W, "Pin versions in dnf: `dnf install -y <package>-<version>`."),
    r("DL3042", W, "Avoid pip's cache directory in images: `pip install --no-cache-dir <package>`."),
    r("DL3043", E, "ONBUILD cannot trigger ONBUILD, FROM or MAINTAINER."),
    r("DL3044", E, "Do not refer to a variable in the same ENV instruction that defines it."),
    r("DL3045", W, "COPY to a relative destination without WORKDIR set."),
    r("DL3046", W, "`useradd` with a high UID and without `-l` makes the lastlog file, and the image, huge."),
    r("DL3047", N, "wget without a progress setting floods the build log: use `wget --progress=dot:giga <url>`, or `-q`/`-nv`."),
    r("DL3048", S, "Invalid label key."),
    r("DL3049", N, "A label required by the label schema is missing."),
    r("DL3050", N, "Labels not in the label schema are present (strict labels)."),
    r("DL3051", W, "A label required by the schema is empty."),
    r("DL3052", W, "A label's value is not a valid URL."),
    r("DL3053", W, "A label's value is not an RFC 3339 time."),
    r("DL3054", W, "A label's value is not a valid SPDX license expression."),
    r("DL3055", W, "A label's value is not a git hash."),
    r("DL3056", W, "A label's value does not follow semantic versioning."),
    r("DL3057", I, "No HEALTHCHECK instruction."),
    r("DL3058", W, "A label's value is not an RFC 5322 email address."),
    r("DL3059", N, "Consecutive RUN instructions: consider merging them."),
    r("DL3060", N, "Run `yarn cache clean` after `yarn install`."),
    r("DL3061", E, "Invalid instruction order: a Dockerfile starts with FROM, ARG or comments."),
    r("DL3062", W, "Pin versions in go: `go install <package>@<version>`."),
    r("DL3063", W, "A stage name should not be a reserved word (scratch, context)."),
    r("DL3064", W, "Possibly sensitive data in ARG or ENV: use build secrets."),
    r("DL3065", W, "`FROM --platform=$TARGETPLATFORM` is redundant: it is the default."),
    r("DL3066", N, "A non-numeric user may not resolve the same way on every host: prefer a numeric UID."),
    r("DL3067", W, "Do not copy a whole filesystem (`/`) from another stage."),
    r("DL4000", E, "MAINTAINER is deprecated: use a LABEL."),
    r("DL4001", W, "Use either wget or curl, not both."),
    r("DL4003", W, "Several CMD instructions in one stage: only the last takes effect."),
    r("DL4004", E, "Several ENTRYPOINT instructions in one stage: only the last takes effect."),
    r("DL4005", W, "Use SHELL to change the default shell instead of relinking /bin/sh."),
    r("DL4006", W, "Set the SHELL option `-o pipefail` before a RUN with a pipe (with /bin/sh from busybox, set SHELL to /bin/ash, or disable this check)."),
];

/// The rule with id `code`, if it is a DL rule.
pub fn rule_info(code: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.code == code)
}

/// What rules get: the model, the configuration, and each RUN's parsed script.
pub(crate) struct Ctx<'a> {
    pub model: &'a Model,
    pub config: &'a Config,
    /// Parsed shell script per item (RUN shell form only; POSIX shells only).
    pub scripts: Vec<Option<Script>>,
    pub out: Vec<Finding>,
}

impl<'a> Ctx<'a> {
    pub fn hit(&mut self, code: &'static str, line: usize) {
        self.hit_msg(code, line, None);
    }

    pub fn hit_msg(&mut self, code: &'static str, line: usize, message: Option<String>) {
        let info = rule_info(code).expect("rule registered");
        self.out.push(Finding {
            code: code.to_string(),
            level: info.level,
            message: message.unwrap_or_else(|| info.message.to_string()),
            file: String::new(),
            line,
            column: 1,
        });
    }

    pub fn items(&self) -> &'a [Item] {
        &self.model.items
    }

    /// `(item index, item, script)` for every RUN with a POSIX shell script.
    pub fn runs(&self) -> Vec<(usize, &'a Item, &Script)> {
        let items = &self.model.items;
        self.scripts
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, &items[i], s)))
            .collect()
    }
}

/// True for shells whose scripts the POSIX reader (and ShellCheck) understand.
pub fn is_posix_shell(shell: &[String]) -> bool {
    let Some(first) = shell.first() else {
        return true;
    };
    let base = first
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(first)
        .to_ascii_lowercase();
    let base = base.strip_suffix(".exe").unwrap_or(&base);
    !matches!(base, "pwsh" | "powershell" | "cmd")
}

pub fn run(model: &Model, config: &Config) -> Vec<Finding> {
    let scripts = model
        .items
        .iter()
        .map(|it| {
            if is_posix_shell(&it.shell) {
                it.run_script().map(|s| Script::parse(&s))
            } else {
                None
            }
        })
        .collect();
    let mut ctx = Ctx {
        model,
        config,
        scripts,
        out: Vec::new(),
    };
    instructions::check(&mut ctx);
    packages::check(&mut ctx);
    stages::check(&mut ctx);
    labels::check(&mut ctx);
    ctx.out
}
