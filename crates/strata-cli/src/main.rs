//! `strata`: one daemonless binary for the whole life of a container image.
//!
//! Each command group lives in `commands/<group>.rs` with its clap arguments and a `run`
//! function taking the parsed arguments and the [`Global`] options.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod commands;
mod output;

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "Build, store, move, serve and analyse container images"
)]
struct Cli {
    #[command(flatten)]
    global: Global,

    #[command(subcommand)]
    command: Command,
}

/// Options every command accepts.
#[derive(clap::Args, Debug, Clone)]
pub struct Global {
    /// Root directory of the local store [default: /var/lib/strata as root,
    /// $XDG_DATA_HOME/strata otherwise]
    #[arg(long, global = true, env = "STRATA_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Build an image from a Dockerfile
    Build(commands::build::BuildArgs),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(commands::builder::BuilderCommand),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(commands::save::SaveArgs),
    /// Load images from a tar archive, an OCI layout directory or STDIN
    Load(commands::load::LoadArgs),
    /// Import the contents from a tarball or directory to create a filesystem image
    Import(commands::import::ImportArgs),
    /// Run and maintain an OCI distribution registry
    #[command(subcommand)]
    Registry(commands::registry::RegistryCommand),
    /// Developer tools: parse a Dockerfile, show its stage graph
    #[command(subcommand)]
    Debug(commands::debug::DebugCommand),
    /// List images
    Images(commands::images::ImagesArgs),
    /// Manage images
    #[command(subcommand)]
    Image(commands::images::ImageCommand),
    /// Display detailed information on one or more images
    Inspect(commands::inspect::InspectArgs),
    /// Show the history of an image
    History(commands::history::HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(commands::tag::TagArgs),
    /// Remove one or more images
    Rmi(commands::rmi::RmiArgs),
    /// Manage the store: disk usage, pruning, consistency check
    #[command(subcommand)]
    System(commands::system::SystemCommand),
    /// Download an image from a registry
    Pull(commands::pull::PullArgs),
    /// Upload an image to a registry
    Push(commands::push::PushArgs),
    /// Log in to a registry
    Login(commands::login::LoginArgs),
    /// Log out from a registry
    Logout(commands::login::LogoutArgs),
    /// Manage multi-platform manifest lists
    #[command(subcommand)]
    Manifest(commands::manifest::ManifestCommand),
    /// Copy an image between registries, OCI layouts, archives and the store
    Copy(commands::copy::CopyArgs),
    /// Lint Dockerfiles with hadolint's rules (and ShellCheck inside RUN)
    Lint(commands::lint::LintArgs),
    /// Analyse an image's layers: efficiency, wasted space, what each layer changed
    Analyze(commands::analyze::AnalyzeArgs),
    /// Explore an image's layers and files interactively
    Explore(commands::explore::ExploreArgs),
    /// Write a software bill of materials (SPDX, CycloneDX) for an image
    Sbom(commands::sbom::SbomArgs),
    /// Scan an image for known vulnerabilities with an offline OSV database
    Scan(commands::scan::ScanArgs),
    /// Manage signing keys (cosign's formats)
    #[command(subcommand)]
    Key(commands::sign::KeyCommand),
    /// Sign an image with a key, as cosign does (registry, store or OCI layout)
    Sign(commands::sign::SignArgs),
    /// Verify an image's signatures against a public key, as cosign does
    Verify(commands::sign::VerifyArgs),
    /// Audit images against a policy file
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Show the strata version and the runtime it uses
    Version(commands::about::VersionArgs),
    /// Show the store (path, contents, size), the runtime and versions
    Info(commands::about::InfoArgs),
    /// Write a shell completion script (bash, zsh, fish) to standard output
    Completion(commands::completion::CompletionArgs),
    /// Write man pages for every command into a directory
    #[command(hide = true)]
    Man(commands::completion::ManArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // As docker: a usage error (unknown flag, bad value) exits 125, a missing or
            // extra argument 1; help exits 0.
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitCode::SUCCESS
                }
                clap::error::ErrorKind::MissingRequiredArgument
                | clap::error::ErrorKind::TooManyValues
                | clap::error::ErrorKind::TooFewValues
                | clap::error::ErrorKind::WrongNumberOfValues => ExitCode::from(1),
                _ => ExitCode::from(125),
            };
        }
    };
    let global = cli.global;
    let result = match cli.command {
        Command::Build(a) => commands::build::run(a, &global),
        Command::Builder(cmd) => commands::builder::run(cmd, &global),
        Command::Save(a) => commands::save::run(a, &global),
        Command::Load(a) => commands::load::run(a, &global),
        Command::Import(a) => commands::import::run(a, &global),
        Command::Registry(cmd) => commands::registry::run(cmd, &global),
        Command::Debug(cmd) => commands::debug::run(cmd, &global),
        Command::Images(a) => commands::images::run(a, &global),
        Command::Image(cmd) => commands::images::run_image(cmd, &global),
        Command::Inspect(a) => commands::inspect::run(a, &global),
        Command::History(a) => commands::history::run(a, &global),
        Command::Tag(a) => commands::tag::run(a, &global),
        Command::Rmi(a) => commands::rmi::run(a, &global),
        Command::System(cmd) => commands::system::run(cmd, &global),
        Command::Pull(a) => commands::pull::run(a, &global),
        Command::Push(a) => commands::push::run(a, &global),
        Command::Login(a) => commands::login::run_login(a, &global),
        Command::Logout(a) => commands::login::run_logout(a, &global),
        Command::Manifest(cmd) => commands::manifest::run(cmd, &global),
        Command::Copy(a) => commands::copy::run(a, &global),
        Command::Lint(a) => commands::lint::run(a, &global),
        Command::Analyze(a) => commands::analyze::run(a, &global),
        Command::Explore(a) => commands::explore::run(a, &global),
        Command::Sbom(a) => commands::sbom::run(a, &global),
        Command::Scan(a) => commands::scan::run(a, &global),
        Command::Key(cmd) => commands::sign::run_key(cmd, &global),
        Command::Sign(a) => commands::sign::run_sign(a, &global),
        Command::Verify(a) => commands::sign::run_verify(a, &global),
        Command::Policy(cmd) => commands::policy::run(cmd, &global),
        Command::Version(a) => commands::about::version(a, &global),
        Command::Info(a) => commands::about::info(a, &global),
        Command::Completion(a) => commands::completion::completion(a, Cli::command()),
        Command::Man(a) => commands::completion::man(a, Cli::command()),
    };
    match result {
        Ok(code) => code,
        // docker words a bad --format template this way, without its "Error: " prefix.
        Err(err) if err.is::<output::template::TemplateError>() => {
            eprintln!("template parsing error: {err}");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("Error: {}", error_text(&err));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, each cause only once: lower layers often fold their cause's
/// text into their own message already.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}
