//! The OCI runtime bundle's `config.json`.
//!
//! These are our own serde structs for the subset of the OCI runtime spec (1.0.2) strata
//! emits, rather than `oci-spec`'s runtime module: the subset is small, plain structs keep the
//! generated JSON obvious in review and in tests, and we avoid a builder layer whose every
//! field is fallible. Field names follow the spec exactly (camelCase).

use serde::Serialize;

use crate::spec::{NetworkMode, RunSpec, SecurityMode};
use crate::user::ResolvedUser;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Config {
    pub oci_version: &'static str,
    pub process: Process,
    pub root: Root,
    pub hostname: String,
    pub mounts: Vec<OciMount>,
    pub linux: Linux,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Process {
    pub terminal: bool,
    pub user: User,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub capabilities: Capabilities,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    pub uid: u32,
    pub gid: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Capabilities {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Rlimit {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub hard: u64,
    pub soft: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Root {
    pub path: String,
    pub readonly: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OciMount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

impl OciMount {
    pub fn new(destination: &str, kind: &str, source: &str, options: &[&str]) -> Self {
        Self {
            destination: destination.to_string(),
            kind: kind.to_string(),
            source: source.to_string(),
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Linux {
    pub namespaces: Vec<Namespace>,
    pub resources: Resources,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masked_paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readonly_paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Seccomp>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Seccomp {
    pub default_action: &'static str,
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyscallRule {
    pub names: Vec<&'static str>,
    pub action: &'static str,
    pub errno_ret: u32,
}

#[derive(Debug, Serialize)]
pub(crate) struct Namespace {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Resources {
    pub devices: Vec<DeviceRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryLimits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuLimits>,
}

/// `linux.resources.memory` (bytes).
#[derive(Debug, Serialize)]
pub(crate) struct MemoryLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<i64>,
}

/// `linux.resources.cpu`.
#[derive(Debug, Serialize)]
pub(crate) struct CpuLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mems: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DeviceRule {
    pub allow: bool,
    pub access: &'static str,
}

/// The device rules plus the `--memory`/`--cpu-*` limits, when any is set.
fn resources(devices: Vec<DeviceRule>, l: &crate::spec::ResourceLimits) -> Resources {
    let memory = (l.memory.is_some() || l.memory_swap.is_some()).then_some(MemoryLimits {
        limit: l.memory,
        swap: l.memory_swap,
    });
    let any_cpu = l.cpu_shares.is_some()
        || l.cpu_quota.is_some()
        || l.cpu_period.is_some()
        || l.cpuset_cpus.is_some()
        || l.cpuset_mems.is_some();
    let cpu = any_cpu.then(|| CpuLimits {
        shares: l.cpu_shares,
        quota: l.cpu_quota,
        period: l.cpu_period,
        cpus: l.cpuset_cpus.clone(),
        mems: l.cpuset_mems.clone(),
    });
    Resources {
        devices,
        memory,
        cpu,
    }
}

/// Docker's default capability set for containers and build steps.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability up to Linux 5.9's `CAP_CHECKPOINT_RESTORE`, for `security=insecure`,
/// indexed by capability number.
pub const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's masked `/proc` and `/sys` paths (hidden from sandboxed processes).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only `/proc` paths.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Syscalls refused (EPERM) in sandbox mode: those docker's default seccomp profile keeps
/// from unprivileged containers (kernel modules, keyrings, namespaces, mounts, clocks,
/// reboot, cross-process memory access, BPF, perf, userfaultfd). This is a deny list over a
/// default-allow policy, narrower than docker's allow list; names unknown on the running
/// architecture are skipped by runc.
pub const SANDBOX_DENIED_SYSCALLS: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "move_mount",
    "fsopen",
    "fsmount",
    "fspick",
    "open_tree",
    "nfsservctl",
    "open_by_handle_at",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "sysfs",
    "_sysctl",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

/// The kernel filesystems every container gets, in mount order.
pub(crate) fn standard_mounts(spec: &RunSpec) -> Vec<OciMount> {
    let shm_kib = spec.shm_size.div_ceil(1024);
    let shm_opts = format!("size={shm_kib}k");
    let sys_mode = match spec.security {
        SecurityMode::Sandbox => "ro",
        SecurityMode::Insecure => "rw",
    };
    vec![
        OciMount::new("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        OciMount::new(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        OciMount::new(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        OciMount::new(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_opts],
        ),
        OciMount::new(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        OciMount::new(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_mode],
        ),
        OciMount::new(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", sys_mode],
        ),
    ]
}

/// The calling process's capability bounding set (`CapBnd`), if readable. A container
/// cannot get a capability its runtime lacks: runc fails with "unable to apply caps".
pub(crate) fn bounding_set() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapBnd:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// The capabilities for `security`, restricted to the `bounding` mask (all when `None`).
pub(crate) fn capabilities(security: SecurityMode, bounding: Option<u64>) -> Vec<String> {
    let wanted = match security {
        SecurityMode::Sandbox => DEFAULT_CAPABILITIES,
        SecurityMode::Insecure => ALL_CAPABILITIES,
    };
    wanted
        .iter()
        .filter(|cap| {
            let bit = ALL_CAPABILITIES.iter().position(|c| c == *cap);
            match (bounding, bit) {
                (Some(mask), Some(bit)) => mask & (1u64 << bit) != 0,
                _ => true,
            }
        })
        .map(|s| s.to_string())
        .collect()
}

/// Assemble the config. `mounts` are all mounts (standard, user, hosts files) in order;
/// `bounding` is the runtime's capability bounding set (see [`bounding_set`]).
pub(crate) fn build_config(
    spec: &RunSpec,
    user: &ResolvedUser,
    env: Vec<String>,
    mounts: Vec<OciMount>,
    bounding: Option<u64>,
) -> Config {
    let caps = capabilities(spec.security, bounding);
    let rlimits = spec
        .ulimits
        .iter()
        .map(|u| Rlimit {
            // Validated before: the name is known.
            kind: u.rlimit_type().unwrap_or("RLIMIT_NOFILE"),
            hard: u.hard,
            soft: u.soft,
        })
        .collect();
    let mut namespaces = vec![
        Namespace { kind: "pid" },
        Namespace { kind: "ipc" },
        Namespace { kind: "uts" },
        Namespace { kind: "mount" },
    ];
    if spec.network == NetworkMode::None {
        // runc brings up `lo` in a namespace it creates.
        namespaces.push(Namespace { kind: "network" });
    }
    let seccomp = match spec.security {
        SecurityMode::Sandbox => Some(Seccomp {
            default_action: "SCMP_ACT_ALLOW",
            syscalls: vec![SyscallRule {
                names: SANDBOX_DENIED_SYSCALLS.to_vec(),
                action: "SCMP_ACT_ERRNO",
                errno_ret: 1,
            }],
        }),
        SecurityMode::Insecure => None,
    };
    let (masked_paths, readonly_paths, devices) = match spec.security {
        SecurityMode::Sandbox => (
            MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
            READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
            // Deny all; runc adds its allow rules for the default devices it creates
            // (null, zero, full, random, urandom, tty, ptmx).
            vec![DeviceRule {
                allow: false,
                access: "rwm",
            }],
        ),
        SecurityMode::Insecure => (
            Vec::new(),
            Vec::new(),
            vec![DeviceRule {
                allow: true,
                access: "rwm",
            }],
        ),
    };
    Config {
        oci_version: "1.0.2",
        process: Process {
            terminal: false,
            user: User {
                uid: user.uid,
                gid: user.gid,
                additional_gids: user.additional_gids.clone(),
            },
            args: spec.args.argv(),
            env,
            cwd: spec.cwd.clone(),
            capabilities: Capabilities {
                bounding: caps.clone(),
                effective: caps.clone(),
                permitted: caps,
            },
            rlimits,
            no_new_privileges: false,
        },
        root: Root {
            path: "rootfs".to_string(),
            readonly: false,
        },
        hostname: spec.hostname.clone(),
        mounts,
        linux: Linux {
            namespaces,
            resources: resources(devices, &spec.limits),
            masked_paths,
            readonly_paths,
            seccomp,
        },
    }
}

/// The process environment: the spec's, plus `PATH` and `HOME` defaults and `SSH_AUTH_SOCK`
/// for the first ssh mount, each only when the spec does not set it.
pub(crate) fn process_env(spec: &RunSpec, user: &ResolvedUser) -> Vec<String> {
    let mut env = spec.env.clone();
    let has = |env: &[String], key: &str| {
        env.iter()
            .any(|e| e.split_once('=').is_some_and(|(k, _)| k == key))
    };
    if !has(&env, "PATH") {
        env.push(format!("PATH={}", crate::spec::DEFAULT_PATH));
    }
    if !has(&env, "HOME") {
        let home = user
            .home
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or("/");
        env.push(format!("HOME={home}"));
    }
    let ssh = spec
        .mounts
        .iter()
        .find(|m| matches!(m.kind, crate::spec::MountKind::Ssh { .. }));
    if let Some(m) = ssh {
        if !has(&env, "SSH_AUTH_SOCK") {
            env.push(format!("SSH_AUTH_SOCK={}", m.target));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Mount, ProcessArgs, RootfsSpec, Ulimit};

    fn spec() -> RunSpec {
        RunSpec::new(
            RootfsSpec {
                lowers: vec![],
                upper: "/u".into(),
                work: "/w".into(),
            },
            ProcessArgs::shell("true"),
        )
    }

    #[test]
    fn sandbox_config_json() {
        let mut s = spec();
        s.ulimits = vec![Ulimit::parse("nofile=100:200").unwrap()];
        s.shm_size = 1024 * 1024;
        let user = ResolvedUser {
            uid: 5,
            gid: 6,
            additional_gids: vec![7],
            home: None,
        };
        let env = process_env(&s, &user);
        let cfg = build_config(&s, &user, env, standard_mounts(&s), None);
        let v = serde_json::to_value(&cfg).unwrap();
        assert_eq!(v["ociVersion"], "1.0.2");
        assert_eq!(v["process"]["user"]["additionalGids"][0], 7);
        assert_eq!(v["process"]["args"][2], "true");
        assert_eq!(v["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
        assert_eq!(v["process"]["rlimits"][0]["soft"], 100);
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(ns.contains(&"network"));
        let shm = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap();
        assert!(shm["options"]
            .as_array()
            .unwrap()
            .contains(&"size=1024k".into()));
        assert!(v["process"]["env"]
            .as_array()
            .unwrap()
            .contains(&"HOME=/".into()));
        assert!(v["linux"]["maskedPaths"].as_array().unwrap().len() > 3);
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(v["linux"]["seccomp"]["syscalls"][0]["errnoRet"], 1);
    }

    #[test]
    fn insecure_and_host_network() {
        let mut s = spec();
        s.security = SecurityMode::Insecure;
        s.network = NetworkMode::Host;
        let cfg = build_config(&s, &ResolvedUser::root(), vec![], standard_mounts(&s), None);
        let v = serde_json::to_value(&cfg).unwrap();
        assert!(v["linux"].get("maskedPaths").is_none());
        assert!(v["linux"].get("seccomp").is_none());
        assert_eq!(v["linux"]["resources"]["devices"][0]["allow"], true);
        assert!(v["process"]["capabilities"]["effective"]
            .as_array()
            .unwrap()
            .contains(&"CAP_SYS_ADMIN".into()));
        assert!(!v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network"));
    }

    #[test]
    fn capabilities_follow_bounding_set() {
        assert_eq!(ALL_CAPABILITIES[21], "CAP_SYS_ADMIN");
        assert_eq!(ALL_CAPABILITIES[40], "CAP_CHECKPOINT_RESTORE");
        let all = capabilities(SecurityMode::Insecure, None);
        assert_eq!(all.len(), 41);
        let without_sys_resource = capabilities(SecurityMode::Insecure, Some(0x1ff_feff_ffff));
        assert_eq!(without_sys_resource.len(), 40);
        assert!(!without_sys_resource.contains(&"CAP_SYS_RESOURCE".to_string()));
        let only_chown = capabilities(SecurityMode::Sandbox, Some(1));
        assert_eq!(only_chown, ["CAP_CHOWN"]);
    }

    #[test]
    fn env_defaults_do_not_override() {
        let mut s = spec();
        s.env = vec!["PATH=/x".into(), "HOME=/h".into()];
        s.mounts = vec![Mount::ssh(0, "/tmp/agent.sock")];
        let env = process_env(&s, &ResolvedUser::root());
        assert_eq!(
            env,
            [
                "PATH=/x",
                "HOME=/h",
                "SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0"
            ]
        );
        let env = process_env(&spec(), &ResolvedUser::root());
        assert_eq!(env[1], "HOME=/root");
    }
}
