//! Resolving Dockerfile `USER` strings against an image's `/etc/passwd` and `/etc/group`.
//!
//! Accepted forms are docker's: `uid`, `name`, `uid:gid`, `name:group`, `uid:group`,
//! `name:gid`. A numeric uid need not exist in passwd (its gid then defaults to 0); a *name*
//! that is missing is an error naming it. Without an explicit group the user's primary group
//! comes from passwd and the supplementary groups are every group listing the user as a member.

use std::path::Path;

use crate::error::{ExecError, ExecErrorKind};
use crate::rootpath::read_in_root;

/// The ids a process runs with, as resolved from a `USER` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, sorted, without `gid` itself.
    pub additional_gids: Vec<u32>,
    /// The home directory from passwd, used for `HOME` when the environment lacks it.
    pub home: Option<String>,
}

impl ResolvedUser {
    /// uid 0, gid 0, home `/root`: the default when no user is given.
    pub fn root() -> Self {
        Self {
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            home: Some("/root".to_string()),
        }
    }
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// Resolve `user` against the passwd and group files of the root filesystem at `rootfs`
/// (symlinks inside the rootfs are followed without leaving it).
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<ResolvedUser, ExecError> {
    let read = |name: &str| -> Result<Option<String>, ExecError> {
        read_in_root(rootfs, name)
            .map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned()))
            .map_err(|e| ExecError::io("read", &rootfs.join(name.trim_start_matches('/')), e))
    };
    let passwd = read("/etc/passwd")?;
    let group = read("/etc/group")?;
    resolve_user_from(user, passwd.as_deref(), group.as_deref())
}

/// Resolve `user` against the given passwd and group file contents (`None`: file absent).
pub fn resolve_user_from(
    user: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedUser, ExecError> {
    let user = user.trim();
    if user.is_empty() {
        return Ok(ResolvedUser::root());
    }
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    if user_part.is_empty() || group_part == Some("") {
        return Err(ExecError::invalid(format!(
            "invalid user {user:?}: expected uid[:gid] or name[:group]"
        )));
    }
    let users: Vec<PasswdEntry<'_>> = passwd.map(parse_passwd).unwrap_or_default();
    let groups: Vec<GroupEntry<'_>> = group.map(parse_group).unwrap_or_default();

    let entry = match user_part.parse::<u32>() {
        Ok(uid) => users.iter().find(|e| e.uid == uid),
        Err(_) => Some(users.iter().find(|e| e.name == user_part).ok_or_else(|| {
            ExecError::new(
                ExecErrorKind::UserNotFound,
                format!("unable to find user {user_part}: no matching entries in passwd file"),
            )
        })?),
    };
    let uid = match entry {
        Some(e) => e.uid,
        // Only reachable for numeric users (names were checked above).
        None => user_part.parse::<u32>().unwrap_or(0),
    };
    let home = entry.map(|e| e.home.to_string());

    let (gid, additional_gids) = match group_part {
        Some(g) => {
            let gid = match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => groups
                    .iter()
                    .find(|e| e.name == g)
                    .map(|e| e.gid)
                    .ok_or_else(|| {
                        ExecError::new(
                            ExecErrorKind::UserNotFound,
                            format!("unable to find group {g}: no matching entries in group file"),
                        )
                    })?,
            };
            (gid, Vec::new())
        }
        None => {
            let gid = entry.map(|e| e.gid).unwrap_or(0);
            let mut extra: Vec<u32> = match entry {
                Some(e) => groups
                    .iter()
                    .filter(|g| g.gid != gid && g.members.contains(&e.name))
                    .map(|g| g.gid)
                    .collect(),
                None => Vec::new(),
            };
            extra.sort_unstable();
            extra.dedup();
            (gid, extra)
        }
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// `name:password:uid:gid:gecos:home:shell`; malformed lines are skipped as libc does.
fn parse_passwd(text: &str) -> Vec<PasswdEntry<'_>> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0],
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
        .collect()
}

/// `name:password:gid:member,member`.
fn parse_group(text: &str) -> Vec<GroupEntry<'_>> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            Some(GroupEntry {
                name: f[0],
                gid: f[2].parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
        broken line\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\n\
        app:x:1000:\n\
        audio:x:29:app,other\n\
        video:x:44:other\n\
        staff:x:50:app\n";

    fn resolve(u: &str) -> Result<ResolvedUser, ExecError> {
        resolve_user_from(u, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn numeric_user_known_and_unknown() {
        let u = resolve("1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![29, 50]);
        assert_eq!(u.home.as_deref(), Some("/home/app"));
        let u = resolve("4242").unwrap();
        assert_eq!((u.uid, u.gid), (4242, 0));
        assert!(u.additional_gids.is_empty());
        assert_eq!(u.home, None);
        let u = resolve("4242:77").unwrap();
        assert_eq!((u.uid, u.gid), (4242, 77));
    }

    #[test]
    fn user_by_name() {
        let u = resolve("app").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![29, 50]);
        let u = resolve("daemon").unwrap();
        assert_eq!((u.uid, u.gid), (1, 1));
    }

    #[test]
    fn name_and_group() {
        let u = resolve("app:video").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 44));
        assert!(
            u.additional_gids.is_empty(),
            "explicit group drops supplementary groups"
        );
        let u = resolve("app:7").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 7));
        let u = resolve("0:staff").unwrap();
        assert_eq!((u.uid, u.gid), (0, 50));
    }

    #[test]
    fn missing_user_or_group_names_it() {
        let e = resolve("nobody").unwrap_err();
        assert_eq!(e.kind(), ExecErrorKind::UserNotFound);
        assert!(e.to_string().contains("nobody"), "{e}");
        let e = resolve("app:wheel").unwrap_err();
        assert_eq!(e.kind(), ExecErrorKind::UserNotFound);
        assert!(e.to_string().contains("wheel"), "{e}");
        // No passwd file at all: names cannot resolve, numbers still can.
        let e = resolve_user_from("app", None, None).unwrap_err();
        assert!(e.to_string().contains("app"));
        assert_eq!(resolve_user_from("5:6", None, None).unwrap().gid, 6);
    }

    #[test]
    fn empty_and_malformed() {
        assert_eq!(resolve("").unwrap(), ResolvedUser::root());
        assert_eq!(
            resolve(":1").unwrap_err().kind(),
            ExecErrorKind::InvalidSpec
        );
        assert_eq!(
            resolve("app:").unwrap_err().kind(),
            ExecErrorKind::InvalidSpec
        );
    }

    #[test]
    fn reads_files_from_rootfs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(d.path().join("etc/group"), GROUP).unwrap();
        let u = resolve_user(d.path(), "app:audio").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 29));
    }
}
