//! `strata login` and `strata logout`: verify credentials against the registry and keep
//! them where docker does (`config.json` or its credential helper).

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use strata_distribution::credentials::config_key;
use strata_distribution::{Client, ClientOptions, Credential, DockerConfig};

use super::pull::{runtime, RegistryFlags};
use crate::Global;

/// Log in to a registry
#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Registry host[:port] (default: Docker Hub)
    pub server: Option<String>,
}

/// Log out from a registry
#[derive(clap::Args, Debug)]
pub struct LogoutArgs {
    /// Registry host[:port] (default: Docker Hub)
    pub server: Option<String>,
}

/// `docker.io`, a URL or `host[:port]` → the host to contact.
pub fn server_host(server: Option<&str>) -> String {
    let s = server.unwrap_or("docker.io");
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let s = s.split('/').next().unwrap_or(s);
    match s {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "registry-1.docker.io".into(),
        other => other.to_owned(),
    }
}

pub fn run_login(a: LoginArgs, _global: &Global) -> Result<ExitCode> {
    let host = server_host(a.server.as_deref());
    if a.password.is_some() && a.password_stdin {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    let mut config = DockerConfig::load_default()?;
    let username = match a.username {
        Some(u) => u,
        None if !a.password_stdin && std::io::stdin().is_terminal() => {
            eprint!("Username: ");
            std::io::stderr().flush()?;
            let mut u = String::new();
            std::io::stdin().lock().read_line(&mut u)?;
            u.trim().to_owned()
        }
        None => bail!("username is required: use -u/--username"),
    };
    if username.is_empty() {
        bail!("username is required");
    }
    let password = if a.password_stdin {
        let mut p = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut p)
            .context("reading the password from stdin")?;
        p.trim_end_matches(['\n', '\r']).to_owned()
    } else if let Some(p) = a.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        bail!("password is required: use --password-stdin (or -p)");
    };
    if password.is_empty() {
        bail!("password is required");
    }
    let mut creds = HashMap::new();
    creds.insert(
        host.clone(),
        Credential::Basic {
            username: username.clone(),
            password: password.clone(),
        },
    );
    let opts = ClientOptions {
        tls_verify: a.registry.tls_verify,
        insecure_registries: a.registry.insecure_registries.clone(),
        ca_certs: super::pull::ca_certs(&a.registry, &[host.as_str()])?,
        docker_config: None,
        credentials: creds,
        ..ClientOptions::default()
    };
    let client = Client::new(opts)?;
    runtime()?
        .block_on(client.ping(&host))
        .with_context(|| format!("logging in to {host}"))?;
    config
        .store(&host, &username, &password)
        .with_context(|| format!("saving credentials in {}", config.path().display()))?;
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

pub fn run_logout(a: LogoutArgs, _global: &Global) -> Result<ExitCode> {
    let host = server_host(a.server.as_deref());
    let mut config = DockerConfig::load_default()?;
    let found = config.erase(&host)?;
    if found {
        println!("Removing login credentials for {}", config_key(&host));
    } else {
        println!("Not logged in to {}", config_key(&host));
    }
    Ok(ExitCode::SUCCESS)
}
