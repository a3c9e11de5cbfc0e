//! Minimal server entry point for benchmarks: the same `server::run` as
//! `strata registry serve`, without building the whole CLI.
//!
//! Usage: registry_serve [CONFIG.toml]  (default: 127.0.0.1:5000, ./registry-data)

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = match std::env::args().nth(1) {
        Some(p) => strata_registry::Config::load(std::path::Path::new(&p))?,
        None => strata_registry::Config::default(),
    };
    strata_registry::server::init_logging(false);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(strata_registry::server::run(cfg))?;
    Ok(())
}
