//! Package-manager rules inside RUN: version pinning, non-interactive switches, caches.
//!
//! A package word that holds a variable counts as pinned when the variable is declared
//! (an ARG anywhere, an ENV in the stage or the stages it builds on, or an assignment in
//! the same script): its value is the version. hadolint flags those (its #928).

use super::Ctx;
use crate::model::Item;
use crate::shell::{Command, Script, Word};

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let arg_names = ctx.model.arg_names();
    let mut hits: Vec<(&'static str, usize)> = Vec::new();
    for (idx, it, script) in ctx.runs() {
        let mut known: Vec<String> = arg_names.clone();
        known.extend(ctx.model.env_before(idx).into_iter().map(|(k, _)| k));
        for c in &script.commands {
            known.extend(c.assignments.iter().map(|(k, _)| k.clone()));
            if c.name() == "export" {
                known.extend(
                    c.args()
                        .iter()
                        .filter_map(|w| w.text.split_once('=').map(|(k, _)| k.to_string())),
                );
            }
        }
        let pinned_var = |w: &Word| {
            w.has_var
                && super::instructions::var_refs(&w.text)
                    .iter()
                    .all(|v| known.contains(v))
        };
        let mut codes: Vec<&'static str> = Vec::new();
        for (pos, c) in script.commands.iter().enumerate() {
            let later = &script.commands[pos + 1..];
            apt(c, &pinned_var, &mut codes);
            pip(ctx, idx, it, script, c, &pinned_var, &mut codes);
            npm(c, &pinned_var, &mut codes);
            apk(it, c, &pinned_var, &mut codes);
            gem(c, &pinned_var, &mut codes);
            rpm_family(it, c, later, &pinned_var, &mut codes);
            go(c, &pinned_var, &mut codes);
        }
        codes.sort();
        codes.dedup();
        hits.extend(codes.into_iter().map(|c| (c, it.line)));
    }
    for (c, l) in hits {
        ctx.hit(c, l);
    }
}

fn texts<'a>(words: &[&'a Word]) -> Vec<&'a str> {
    words.iter().map(|w| w.text.as_str()).collect()
}

/// Non-flag arguments after the subcommand (its first occurrence).
fn packages_after<'a>(c: &'a Command, subs: &[&str], with_value: &[&str]) -> Option<Vec<&'a Word>> {
    let rest = c.args_no_flags(with_value);
    let pos = rest.iter().position(|w| subs.contains(&w.text.as_str()))?;
    Some(rest[pos + 1..].to_vec())
}

fn apt(c: &Command, pinned_var: &dyn Fn(&Word) -> bool, codes: &mut Vec<&'static str>) {
    if !c.is("apt-get") {
        return;
    }
    let Some(pkgs) = packages_after(c, &["install"], &["t", "target-release", "o", "c"]) else {
        return;
    };
    let unpinned = pkgs.iter().any(|w| {
        let t = w.text.as_str();
        !(t.contains('=')
            || t.ends_with(".deb")
            || t.starts_with('/')
            || t.starts_with("./")
            || pinned_var(w))
    });
    if unpinned {
        codes.push("DL3008");
    }
    let quiet = c.count_flag(&["q", "quiet"])
        + c.args()
            .iter()
            .filter_map(|w| {
                w.text
                    .strip_prefix("-q=")
                    .or(w.text.strip_prefix("--quiet="))
            })
            .filter_map(|n| n.parse::<usize>().ok())
            .sum::<usize>();
    if !c.has_flag(&["y", "yes", "assume-yes"]) && quiet < 2 {
        codes.push("DL3014");
    }
    let no_recommends = c.has_flag(&["no-install-recommends"])
        || c.args().iter().any(|w| {
            w.text
                .to_ascii_lowercase()
                .starts_with("apt::install-recommends=false")
        });
    if !no_recommends {
        codes.push("DL3015");
    }
}

/// Options of `pip install` that take a value.
const PIP_VALUE_OPTIONS: [&str; 38] = [
    "c",
    "constraint",
    "e",
    "editable",
    "i",
    "index-url",
    "extra-index-url",
    "f",
    "find-links",
    "build",
    "prefix",
    "root",
    "target",
    "t",
    "trusted-host",
    "root-user-action",
    "python",
    "platform",
    "python-version",
    "implementation",
    "abi",
    "src",
    "upgrade-strategy",
    "progress-bar",
    "log",
    "cache-dir",
    "proxy",
    "retries",
    "timeout",
    "exists-action",
    "cert",
    "client-cert",
    "global-option",
    "install-option",
    "no-binary",
    "only-binary",
    "config-settings",
    "C",
];

fn is_pip(c: &Command) -> bool {
    let n = c.name().rsplit('/').next().unwrap_or("");
    let pip_name = n == "pip"
        || n.strip_prefix("pip")
            .is_some_and(|v| !v.is_empty() && v.chars().all(|d| d.is_ascii_digit() || d == '.'));
    let python_m = n.starts_with("python")
        && c.args().first().is_some_and(|w| w.text == "-m")
        && c.args().get(1).is_some_and(|w| w.text == "pip");
    pip_name || python_m
}

fn pip_package_pinned(t: &str) -> bool {
    const OPS: [&str; 6] = ["==", ">=", "<=", "~=", "!=", "==="];
    if OPS.iter().any(|o| t.contains(o)) || t.contains('>') || t.contains('<') {
        return true;
    }
    if let Some(rest) = t.strip_prefix("git+") {
        let before_fragment = rest.split('#').next().unwrap_or(rest);
        let path = before_fragment.rsplit('/').next().unwrap_or("");
        return path.contains('@');
    }
    t.contains("://")
        || t.contains('/')
        || t == "."
        || [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"]
            .iter()
            .any(|e| t.ends_with(e))
}

fn pip(
    ctx: &Ctx<'_>,
    idx: usize,
    it: &Item,
    script: &Script,
    c: &Command,
    pinned_var: &dyn Fn(&Word) -> bool,
    codes: &mut Vec<&'static str>,
) {
    let pipx = c.is("pipx");
    if !is_pip(c) && !pipx {
        return;
    }
    let mut rest = c.args_no_flags(&PIP_VALUE_OPTIONS);
    if c.args().first().is_some_and(|w| w.text == "-m") {
        rest.retain(|w| w.text != "pip");
    }
    if rest.first().map(|w| w.text.as_str()) != Some("install") {
        return;
    }
    let pkgs = &rest[1..];
    let from_file = c.has_flag(&["r", "requirement", "c", "constraint", "e", "editable"]);
    if !from_file
        && pkgs
            .iter()
            .any(|w| !pip_package_pinned(&w.text) && !pinned_var(w))
    {
        codes.push("DL3013");
    }
    if pipx || c.has_flag(&["no-cache-dir"]) || it.has_cache_mount("/root/.cache/pip") {
        return;
    }
    let truthy = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "1" | "on" | "yes" | "true");
    let mut setting: Option<String> = ctx
        .model
        .env_before(idx)
        .into_iter()
        .rev()
        .find(|(k, _)| k == "PIP_NO_CACHE_DIR")
        .map(|(_, v)| v);
    for other in &script.commands {
        if std::ptr::eq(other, c) {
            break;
        }
        if other.name() == "export" {
            for w in other.args() {
                if let Some(v) = w.text.strip_prefix("PIP_NO_CACHE_DIR=") {
                    setting = Some(v.to_string());
                }
            }
        }
    }
    if let Some((_, v)) = c.assignments.iter().find(|(k, _)| k == "PIP_NO_CACHE_DIR") {
        setting = Some(v.clone());
    }
    if !setting.is_some_and(|v| truthy(&v)) {
        codes.push("DL3042");
    }
}

fn npm(c: &Command, pinned_var: &dyn Fn(&Word) -> bool, codes: &mut Vec<&'static str>) {
    if !c.is("npm") {
        return;
    }
    let rest = c.args_no_flags(&["registry", "loglevel", "prefix", "cache", "w", "workspace"]);
    if !rest
        .first()
        .is_some_and(|w| matches!(w.text.as_str(), "install" | "i" | "add"))
    {
        return;
    }
    let unpinned = rest[1..].iter().any(|w| {
        let t = w.text.as_str();
        let local = ["/", "./", "../", "~/"].iter().any(|p| t.starts_with(p))
            || [".tar", ".tar.gz", ".tgz"].iter().any(|e| t.ends_with(e));
        let git = t.starts_with("git") || t.contains("://");
        let pinned = if local {
            true
        } else if git {
            t.contains('#')
        } else {
            // `@scope/name@version`: the version's `@` comes after the first character.
            t[1.min(t.len())..].contains('@')
        };
        !pinned && !pinned_var(w)
    });
    if unpinned {
        codes.push("DL3016");
    }
}

fn apk(it: &Item, c: &Command, pinned_var: &dyn Fn(&Word) -> bool, codes: &mut Vec<&'static str>) {
    if !c.is("apk") {
        return;
    }
    let Some(pkgs) = packages_after(
        c,
        &["add"],
        &[
            "t",
            "virtual",
            "X",
            "repository",
            "repositories-file",
            "p",
            "root",
            "arch",
            "cache-dir",
            "keys-dir",
        ],
    ) else {
        return;
    };
    let unpinned = pkgs.iter().any(|w| {
        let t = w.text.as_str();
        !(t.contains('=')
            || t.contains('~')
            || t.contains('>')
            || t.contains('<')
            || t.ends_with(".apk")
            || pinned_var(w))
    });
    if unpinned {
        codes.push("DL3018");
    }
    if !c.has_flag(&["no-cache"]) && !it.has_cache_mount("/var/cache/apk") {
        codes.push("DL3019");
    }
}

/// `gem install` options that take no value; every other option takes the next word.
const GEM_SWITCHES: [&str; 22] = [
    "N",
    "no-document",
    "no-ri",
    "no-rdoc",
    "document",
    "conservative",
    "minimal-deps",
    "user-install",
    "no-user-install",
    "f",
    "force",
    "l",
    "local",
    "r",
    "remote",
    "b",
    "both",
    "prerelease",
    "development",
    "ignore-dependencies",
    "q",
    "quiet",
];

fn gem(c: &Command, pinned_var: &dyn Fn(&Word) -> bool, codes: &mut Vec<&'static str>) {
    if !c.is("gem") {
        return;
    }
    let args = c.args();
    if !args
        .first()
        .is_some_and(|w| w.text == "install" || w.text == "i")
    {
        return;
    }
    if c.has_flag(&["v", "version"]) {
        return;
    }
    let mut unpinned = false;
    let mut skip = false;
    for w in &args[1..] {
        if w.text == "--" {
            break;
        }
        if skip {
            skip = false;
            continue;
        }
        if w.is_flag() {
            let name = w.text.trim_start_matches('-');
            skip = !name.contains('=') && !GEM_SWITCHES.contains(&name);
            continue;
        }
        if !w.text.contains(':') && !pinned_var(w) {
            unpinned = true;
        }
    }
    if unpinned {
        codes.push("DL3028");
    }
}

/// True for `<name>-<version>` (a `-` followed by a digit), module streams (`name:9`),
/// and local or remote package files.
fn rpm_pinned(t: &str) -> bool {
    let b = t.as_bytes();
    (1..b.len()).any(|i| b[i - 1] == b'-' && b[i].is_ascii_digit())
        || t.contains(':')
        || t.ends_with(".rpm")
        || t.contains('/')
}

fn cleans(later: &[Command], tools: &[&str], cache_dirs: &[&str]) -> bool {
    later.iter().any(|c| {
        (tools.iter().any(|t| c.is(t))
            && c.args().first().is_some_and(|w| w.text == "clean")
            && c.args().get(1).is_some_and(|w| w.text == "all"))
            || (c.is("rm")
                && c.args()
                    .iter()
                    .any(|w| cache_dirs.iter().any(|d| w.text.starts_with(d))))
    })
}

fn rpm_family(
    it: &Item,
    c: &Command,
    later: &[Command],
    pinned_var: &dyn Fn(&Word) -> bool,
    codes: &mut Vec<&'static str>,
) {
    let nonflag = c.args_no_flags(&[
        "setopt",
        "c",
        "config",
        "releasever",
        "installroot",
        "repo",
        "enablerepo",
        "disablerepo",
        "x",
        "exclude",
    ]);
    let words = texts(&nonflag);
    let first = words.first().copied().unwrap_or("");
    let yes = c.has_flag(&["y", "assumeyes"]);
    if c.is("yum") {
        let installs = matches!(
            first,
            "install" | "groupinstall" | "localinstall" | "reinstall"
        );
        let module_install = first == "module" && words.get(1) == Some(&"install");
        if (installs || module_install) && !yes {
            codes.push("DL3030");
        }
        if (installs || module_install)
            && !cleans(later, &["yum"], &["/var/cache/yum"])
            && !it.has_cache_mount("/var/cache/yum")
        {
            codes.push("DL3032");
        }
        if first == "install" || module_install {
            let skip = if module_install { 2 } else { 1 };
            if nonflag[skip..]
                .iter()
                .any(|w| !rpm_pinned(&w.text) && !pinned_var(w))
            {
                codes.push("DL3033");
            }
        }
    }
    if c.is("dnf") || c.is("microdnf") {
        // `microdnf clean all` does not clean what dnf cached, nor the other way round.
        let tool = if c.is("dnf") { "dnf" } else { "microdnf" };
        let installs = matches!(
            first,
            "install" | "in" | "groupinstall" | "localinstall" | "reinstall" | "rei"
        );
        let changes = installs
            || matches!(
                first,
                "upgrade" | "up" | "update" | "upgrade-minimal" | "up-min"
            )
            || (first == "group" || first == "module") && words.get(1) == Some(&"install");
        if installs && !yes {
            codes.push("DL3038");
        }
        if changes
            && !cleans(later, &[tool], &["/var/cache/yum", "/var/cache/dnf"])
            && !it.has_cache_mount("/var/cache/libdnf5")
            && !it.has_cache_mount("/var/cache/dnf")
        {
            codes.push("DL3040");
        }
        let module_install = first == "module" && words.get(1) == Some(&"install");
        if matches!(first, "install" | "in") || module_install {
            let skip = if module_install { 2 } else { 1 };
            if nonflag[skip..]
                .iter()
                .any(|w| !rpm_pinned(&w.text) && !pinned_var(w))
            {
                codes.push("DL3041");
            }
        }
    }
    if c.is("zypper") {
        let installs = matches!(
            first,
            "install"
                | "in"
                | "remove"
                | "rm"
                | "source-install"
                | "si"
                | "patch"
                | "update"
                | "up"
        );
        if matches!(
            first,
            "install" | "in" | "remove" | "rm" | "source-install" | "si" | "patch"
        ) && !c.has_flag(&["n", "non-interactive", "y", "no-confirm"])
        {
            codes.push("DL3034");
        }
        if matches!(first, "dist-upgrade" | "dup") {
            codes.push("DL3035");
        }
        let zypper_cleans = later.iter().any(|l| {
            l.is("zypper") && l.args().iter().any(|w| w.text == "clean" || w.text == "cc")
        });
        if installs && !zypper_cleans && !it.has_cache_mount("/var/cache/zypp") {
            codes.push("DL3036");
        }
        if matches!(first, "install" | "in") {
            let unpinned = nonflag[1..].iter().any(|w| {
                let t = w.text.as_str();
                !(t.contains('=')
                    || t.contains('>')
                    || t.contains('<')
                    || t.ends_with(".rpm")
                    || pinned_var(w))
            });
            if unpinned {
                codes.push("DL3037");
            }
        }
    }
}

const GO_VALUE_FLAGS: [&str; 16] = [
    "o",
    "C",
    "ldflags",
    "gcflags",
    "tags",
    "mod",
    "modfile",
    "p",
    "pkgdir",
    "toolexec",
    "asmflags",
    "buildmode",
    "compiler",
    "gccgoflags",
    "overlay",
    "pgo",
];

fn go(c: &Command, pinned_var: &dyn Fn(&Word) -> bool, codes: &mut Vec<&'static str>) {
    if !c.is("go") {
        return;
    }
    let rest = c.args_no_flags(&GO_VALUE_FLAGS);
    let Some(sub) = rest.first() else { return };
    let pkgs: Vec<&Word> = match sub.text.as_str() {
        "install" | "get" => rest[1..].to_vec(),
        "run" => rest.get(1).into_iter().copied().collect(),
        _ => return,
    };
    let unpinned = pkgs.iter().any(|w| {
        let t = w.text.as_str();
        let local = t.starts_with('/') || t.starts_with('.') || t.ends_with(".go");
        let version = t.rsplit_once('@').map(|(_, v)| v);
        !local && !matches!(version, Some(v) if v != "latest" && !v.is_empty()) && !pinned_var(w)
    });
    if unpinned {
        codes.push("DL3062");
    }
}
