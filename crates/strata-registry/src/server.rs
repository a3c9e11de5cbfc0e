//! Running the server: storage from config, plain or TLS listener, the scheduled
//! retention + GC task, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::auth::Authorizer;
use crate::config::{Config, StorageKind, TlsConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::gc::{self, GcOptions};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::registry::Registry;
use crate::retention;
use crate::routes::{router, AppState};
use crate::storage::fs::FsStorage;
use crate::storage::s3::S3Storage;
use crate::storage::Storage;

/// Opens the configured storage backend.
pub fn open_storage(cfg: &Config) -> Result<Arc<dyn Storage>> {
    Ok(match cfg.storage.kind {
        StorageKind::Filesystem => Arc::new(FsStorage::open(&cfg.storage.path)?),
        StorageKind::S3 => {
            let s3 = cfg.storage.s3.as_ref().ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    "storage kind s3 needs a [storage.s3] table",
                )
            })?;
            Arc::new(S3Storage::new(s3)?)
        }
    })
}

/// Builds the shared request state (needs a tokio runtime for notifications).
pub fn build_state(cfg: &Config, storage: Arc<dyn Storage>) -> Result<AppState> {
    retention::validate(&cfg.retention)?;
    let notifier =
        (!cfg.notifications.is_empty()).then(|| Notifier::start(cfg.notifications.clone()));
    let registry = Registry::with_options(storage, notifier, cfg.gc.grace);
    Ok(AppState {
        registry,
        auth: Arc::new(Authorizer::new(cfg.auth.clone())?),
        metrics: Arc::new(Metrics::default()),
        tls: cfg.tls.is_some(),
        expose_metrics: cfg.metrics,
    })
}

/// Binds the configured address.
pub async fn bind(cfg: &Config) -> Result<TcpListener> {
    TcpListener::bind(&cfg.addr)
        .await
        .map_err(|e| Error::new(ErrorKind::Config, format!("binding {}: {e}", cfg.addr)))
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    cfg: Config,
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if let Some(interval) = cfg.gc.interval {
        spawn_scheduled_gc(&cfg, state.clone(), interval);
    }
    let app = router(state).into_make_service();
    let io_err = |e: std::io::Error| Error::storage(format!("server: {e}"));
    match &cfg.tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(io_err),
        Some(tls) => {
            let acceptor = tls_acceptor(tls)?;
            let l = TlsListener::new(listener, acceptor);
            axum::serve(l, app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(io_err)
        }
    }
}

fn spawn_scheduled_gc(cfg: &Config, state: AppState, interval: std::time::Duration) {
    let rules = cfg.retention.clone();
    let opts = GcOptions {
        grace: cfg.gc.grace,
        upload_grace: cfg.gc.upload_grace,
        dry_run: false,
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            if !rules.is_empty() {
                match retention::apply(&state.registry, &rules, false).await {
                    Ok(r) => tracing::info!(
                        tags = r.tags_removed.len(),
                        manifests = r.manifests_removed.len(),
                        "retention applied"
                    ),
                    Err(e) => tracing::error!(error = %e, "retention failed"),
                }
            }
            match gc::collect(&state.registry, opts).await {
                Ok(r) => {
                    state.metrics.gc_runs.fetch_add(1, Ordering::Relaxed);
                    state
                        .metrics
                        .gc_blobs_deleted
                        .fetch_add(r.blobs_deleted.len() as u64, Ordering::Relaxed);
                    state
                        .metrics
                        .gc_uploads_deleted
                        .fetch_add(r.uploads_deleted.len() as u64, Ordering::Relaxed);
                    tracing::info!(
                        blobs = r.blobs_deleted.len(),
                        bytes = r.bytes_freed,
                        uploads = r.uploads_deleted.len(),
                        "gc done"
                    );
                }
                Err(e) => tracing::error!(error = %e, "gc failed"),
            }
        }
    });
}

fn tls_acceptor(tls: &TlsConfig) -> Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cfg_err = |p: &std::path::Path, e: String| {
        Error::new(ErrorKind::Config, format!("{}: {e}", p.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| cfg_err(&tls.cert, e.to_string()))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| cfg_err(&tls.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(cfg_err(&tls.cert, "no certificates found".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| cfg_err(&tls.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cfg_err(&tls.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| cfg_err(&tls.cert, e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A listener that completes TLS handshakes on their own tasks, so a slow client cannot
/// stall `accept` for everyone else.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    fn new(listener: TcpListener, acceptor: TlsAcceptor) -> Self {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    )
                    .await
                    {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "tls handshake failed"),
                        Err(_) => tracing::debug!(%addr, "tls handshake timed out"),
                    }
                });
            }
        });
        TlsListener { rx, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task only ends with the runtime; park forever.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; draining in-flight requests");
}

/// Installs a `tracing` subscriber writing to stderr: JSON lines or human-readable text.
/// Filter with `RUST_LOG` (default `info`). For binaries; libraries never call it.
pub fn init_logging(json: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs a server from a config until SIGTERM or ctrl-c, then drains in-flight requests
/// for at most `shutdown_timeout`. This is `strata registry serve`.
pub async fn run(cfg: Config) -> Result<()> {
    let storage = open_storage(&cfg)?;
    let state = build_state(&cfg, storage)?;
    let listener = bind(&cfg).await?;
    if let Ok(local) = listener.local_addr() {
        tracing::info!(addr = %local, tls = cfg.tls.is_some(), storage = ?cfg.storage.kind, "registry listening");
    }
    let timeout = cfg.shutdown_timeout;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(serve(cfg, listener, state, async move {
        let _ = rx.await;
    }));
    shutdown_signal().await;
    let _ = tx.send(());
    match tokio::time::timeout(timeout, serving).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(Error::storage(format!("server task failed: {e}"))),
        Err(_) => {
            tracing::warn!(
                ?timeout,
                "in-flight requests did not finish in time; exiting"
            );
            Ok(())
        }
    }
}
