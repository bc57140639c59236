//! Start-up and the HTTP listener: open the database, load the
//! configuration, start scraping, serve until told to stop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tracing::{error, info, warn};

use crate::app::{now_ms, App};
use crate::flags::Flags;
use crate::scrape::ScrapeManager;

/// How often appended data is pushed to disk (series log fsync, chunk pages
/// written back): the bound on what a power loss can take.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// How often compaction runs (head ranges into blocks, block merges,
/// retention) when nothing calls for it sooner.
pub const COMPACT_INTERVAL: Duration = Duration::from_secs(60);

/// How often the head is checked for a range ready to become a block.
const COMPACTABLE_CHECK: Duration = Duration::from_secs(1);

/// Start-up stopped because the configuration (or a rule file it names)
/// could not be loaded; already logged. The process exits with 2, as
/// Prometheus does.
#[derive(Debug, thiserror::Error)]
#[error("the configuration could not be loaded")]
pub struct ConfigLoadFailed;

/// Runs the server until SIGTERM/SIGINT or `/-/quit`.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    use crate::buildinfo as bi;
    info!(
        mode = if flags.agent { "agent" } else { "server" },
        version = format!(
            "(version={}, branch={}, revision={})",
            bi::VERSION,
            bi::BRANCH,
            bi::REVISION
        ),
        "Starting flint"
    );
    info!(
        build_context = bi::build_context(),
        host_details = bi::host_details(),
        fd_limits = bi::fd_limits(),
        vm_limits = bi::vm_limits(),
        "operational information"
    );
    flags.log_features();
    flags.log_ignored();
    crate::config::PROTOBUF_FIRST.store(
        flags.feature(crate::flags::START_ZERO_INGESTION),
        std::sync::atomic::Ordering::Relaxed,
    );
    let config_path = flags.config_file.clone();
    info!(filename = %config_path, "Loading configuration file");
    let load_start = std::time::Instant::now();
    let loaded = crate::config::load_file(Path::new(&config_path)).and_then(|c| {
        if flags.agent {
            c.check_agent()?;
        }
        Ok(c)
    });
    let cfg = match loaded {
        Ok(c) => c,
        Err(e) => {
            let abs = std::fs::canonicalize(&config_path)
                .map(|p| p.display().to_string())
                .unwrap_or(config_path.clone());
            error!(file = %abs, err = %e, "Error loading config (--config.file={})", config_path);
            return Err(ConfigLoadFailed.into());
        }
    };

    let cors_origin = regex::Regex::new(&format!("^(?:{})$", flags.cors_origin))
        .with_context(|| format!("invalid --web.cors.origin {:?}", flags.cors_origin))?;
    let (web_cfg, tls) = match &flags.web_config_file {
        Some(f) => crate::web::webconfig::load(Path::new(f))
            .map_err(|e| anyhow::anyhow!("invalid --web.config.file: {e}"))?,
        None => (Default::default(), None),
    };
    let extra_headers = web_cfg
        .http_server_config
        .as_ref()
        .map(|h| {
            h.headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);

    // every listen address shares one limit of connections
    let connections = Arc::new(tokio::sync::Semaphore::new(if flags.max_connections == 0 {
        tokio::sync::Semaphore::MAX_PERMITS
    } else {
        flags.max_connections
    }));
    let mut listeners = Vec::new();
    for a in &flags.listen_addresses {
        let addr: SocketAddr = resolve(a)?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listen tcp {a}"))?;
        let bound = listener.local_addr()?;
        info!(component = "web", address = %bound, http2 = false, tls = acceptor.is_some(), "Start listening for connections");
        listeners.push(Arc::new(listener));
    }

    // a Prometheus data directory is taken over before the database opens;
    // meanwhile the listeners answer as Prometheus does while it replays
    // its write-ahead log
    let db_path = Path::new(&flags.tsdb_path);
    let progress = Arc::new(tsdb::takeover::Progress::default());
    let takeover = if flags.agent {
        None
    } else {
        let (p, pr) = (db_path.to_path_buf(), Arc::clone(&progress));
        let pending = tokio::task::spawn_blocking(move || tsdb::takeover::pending(&p)).await??;
        if pending {
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let starting: Vec<_> = listeners
                .iter()
                .map(|l| {
                    tokio::spawn(serve_starting(
                        Arc::clone(l),
                        acceptor.clone(),
                        flags.route_prefix(),
                        Arc::clone(&progress),
                        stop_rx.clone(),
                    ))
                })
                .collect();
            info!(component = "tsdb", dir = %db_path.display(), "Found a Prometheus data directory: importing it before starting");
            let p = db_path.to_path_buf();
            let prepared = tokio::task::spawn_blocking(move || {
                let plan = tsdb::takeover::prepare(&p, &pr)?;
                let skipped = match &plan {
                    Some(plan) => tsdb::takeover::import_blocks(plan, &pr)?,
                    None => Default::default(),
                };
                Ok::<_, tsdb::Error>((plan, skipped))
            })
            .await?
            .with_context(|| format!("taking over the Prometheus data in {}", db_path.display()))?;
            Some((prepared, stop_tx, starting))
        } else {
            None
        }
    };
    let open_start = std::time::Instant::now();
    let db = {
        let p = db_path.to_path_buf();
        let opts = tsdb::Options {
            retention_ms: flags.retention_time.as_millis(),
            retention_bytes: flags.retention_size.0,
            no_lockfile: flags.no_lockfile,
            agent: flags.agent,
            max_exemplars: if flags.feature(crate::flags::EXEMPLAR_STORAGE) {
                cfg.max_exemplars()
            } else {
                0
            },
            // an agent has nothing else to catch up from: its journal is
            // bounded by --storage.agent.retention.max-time instead
            journal_max_bytes: if flags.agent {
                u64::MAX
            } else {
                tsdb::Options::default().journal_max_bytes
            },
            ..tsdb::Options::default()
        };
        tokio::task::spawn_blocking(move || tsdb::Db::open(&p, opts))
            .await?
            .with_context(|| format!("opening storage at {}", db_path.display()))?
    };
    let rep = db.open_report().clone();
    for p in &rep.problems {
        warn!(component = "tsdb", problem = %p, "Skipped corrupt data");
    }
    if rep.series_log_cut_bytes > 0 {
        warn!(
            component = "tsdb",
            bytes = rep.series_log_cut_bytes,
            "Truncated a torn or corrupt tail of the series log"
        );
    }
    if rep.orphan_chunks > 0 {
        warn!(
            component = "tsdb",
            chunks = rep.orphan_chunks,
            "Chunks whose series record is missing (corrupt series log) are kept on disk but not served"
        );
    }
    if rep.series_log_skipped_bytes > 0 {
        warn!(
            component = "tsdb",
            bytes = rep.series_log_skipped_bytes,
            "Skipped corrupt records in the series log"
        );
    }
    info!(
        component = "tsdb",
        series = rep.series,
        chunks = rep.chunks,
        duration = ?open_start.elapsed(),
        "TSDB started"
    );
    let db = Arc::new(db);
    if let Some(((plan, mut skipped), stop_tx, starting)) = takeover {
        if let Some(plan) = plan {
            let (db2, pr) = (Arc::clone(&db), Arc::clone(&progress));
            let delete = flags.takeover_delete_original;
            let start = std::time::Instant::now();
            let (plan, skipped) = tokio::task::spawn_blocking(move || {
                skipped.add(tsdb::takeover::import_head(&plan, &db2, &pr)?);
                tsdb::takeover::finish(&plan, &skipped, &pr, delete)?;
                Ok::<_, tsdb::Error>((plan, skipped))
            })
            .await?
            .with_context(|| format!("taking over the Prometheus data in {}", db_path.display()))?;
            log_takeover(
                &plan,
                &skipped,
                &progress,
                start.elapsed(),
                flags.takeover_delete_original,
            );
        }
        let _ = stop_tx.send(true);
        for t in starting {
            let _ = t.await;
        }
    }

    let (shutdown_tx, mut shutdown_rx) = tokio::sync::watch::channel(false);
    // one set of column buffers for every query engine: the API's, made
    // a request, and the rules'
    let query_buffers = Arc::new(promql::ColumnBuffers::default());
    let app = Arc::new(App {
        flags: flags.run_flags(),
        agent: flags.agent,
        db: Arc::clone(&db),
        takeover: progress
            .finished
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| Arc::clone(&progress)),
        scrape: Arc::new(
            ScrapeManager::new(Arc::clone(&db))
                .with_timestamp_tolerance(flags.scrape_timestamp_tolerance())
                .with_start_zero(flags.feature(crate::flags::START_ZERO_INGESTION)),
        ),
        rules: crate::rules::Manager::new(
            Arc::clone(&db),
            crate::rules::ManagerOptions {
                lookback_delta_ms: flags.lookback_delta.as_millis(),
                query_timeout: flags.query_timeout.0,
                max_samples: flags.max_samples,
                external_labels: Default::default(),
                external_url: flags.external_url(),
                resend_delay: flags.resend_delay.0,
                outage_tolerance: flags.for_outage_tolerance.0,
                for_grace_period: flags.for_grace_period.0,
                queue_capacity: flags.notification_queue_capacity,
                query_buffers: Arc::clone(&query_buffers),
            },
        ),
        query_buffers,
        remote_write: crate::remote::write::RemoteWrite::new(
            Arc::clone(&db),
            flags.remote_flush_deadline,
        ),
        remote_read: RwLock::new(None),
        remote_read_slots: tokio::sync::Semaphore::new(
            if flags.remote_read_concurrent_limit == 0 {
                tokio::sync::Semaphore::MAX_PERMITS
            } else {
                flags.remote_read_concurrent_limit
            },
        ),
        remote_read_limits: crate::remote::read::server::ReadLimits {
            sample_limit: flags.remote_read_sample_limit,
            max_bytes_in_frame: flags.remote_read_max_bytes_in_frame.max(1),
            max_request_bytes: flags.remote_write_max_bytes.0 as usize,
        },
        config: RwLock::new(cfg.clone()),
        config_file: config_path.clone(),
        ready: Default::default(),
        started_ms: now_ms(),
        config_loaded_ms: Mutex::new(now_ms()),
        http_requests: Mutex::default(),
        http_durations: Mutex::default(),
        query_durations: Mutex::default(),
        shutdown: shutdown_tx,
        reload_success: std::sync::atomic::AtomicBool::new(true),
        flag_retention: (flags.retention_time.as_millis(), flags.retention_size.0),
        retention_percentage: Mutex::new(0.0),
        enable_admin_api: flags.enable_admin_api,
        enable_remote_write: flags.enable_remote_write_receiver,
        enable_otlp: flags.enable_otlp_receiver,
        otlp_native_delta: flags.feature(crate::flags::OTLP_NATIVE_DELTA),
        exemplar_storage: flags.feature(crate::flags::EXEMPLAR_STORAGE),
        otlp_delta_to_cumulative: flags
            .feature(crate::flags::OTLP_DELTA_TO_CUMULATIVE)
            .then(crate::otlp::delta::DeltaToCumulative::new),
        start_zero: flags.feature(crate::flags::START_ZERO_INGESTION),
        cors_origin,
        reload_lock: Mutex::new(()),
        basic_auth: crate::web::webconfig::BasicAuth::new(web_cfg.basic_auth_users.clone()),
        extra_headers,
        route_prefix: flags.route_prefix(),
        remote_write_max_bytes: flags.remote_write_max_bytes.0 as usize,
        accepted_remote_write: flags.accepted_remote_write_messages.clone(),
        page_title: flags
            .parsed
            .is_set("web.page-title")
            .then(|| flags.page_title.clone()),
        user_assets: flags.user_assets.as_ref().map(std::path::PathBuf::from),
        query_slots: tokio::sync::Semaphore::new(if flags.max_concurrency == 0 {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            flags.max_concurrency
        }),
        read_timeout: flags.read_timeout,
    });
    app.rules.notifier().set_batching(
        flags.notification_batch_size,
        flags.drain_notification_queue,
    );
    if let Err(e) = app.apply_rules(&cfg) {
        let abs = std::fs::canonicalize(&config_path)
            .map(|p| p.display().to_string())
            .unwrap_or(config_path.clone());
        error!(file = %abs, err = %e, "Error loading rule file patterns from config (--config.file={:?})", config_path);
        return Err(ConfigLoadFailed.into());
    }
    if let Err(e) = app.apply_remote_read(&cfg) {
        anyhow::bail!("one or more errors occurred while applying the new configuration (--config.file={config_path:?}): {e}");
    }
    if let Err(e) = app.remote_write.apply(&cfg, &app.config_dir()) {
        anyhow::bail!("one or more errors occurred while applying the new configuration (--config.file={config_path:?}): {e}");
    }
    app.scrape.apply_config(&cfg, &app.config_dir());
    app.apply_retention(&cfg);
    // a retention by percentage follows the volume's size
    {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(60));
            t.tick().await;
            loop {
                t.tick().await;
                if app.retention_percentage() > 0.0 {
                    let cfg = app.config.read().clone();
                    app.apply_retention(&cfg);
                }
            }
        });
    }
    // remote write 2.0 sends each series' metadata: keep a copy of what
    // the targets expose
    {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(10));
            loop {
                t.tick().await;
                if !app.config.read().remote_write.is_empty() {
                    app.remote_write.set_metadata(app.family_metadata());
                }
            }
        });
    }
    info!(
        filename = %config_path,
        totalDuration = ?load_start.elapsed(),
        "Completed loading of configuration file"
    );

    // durability: push appended data to disk on a fixed interval
    let flusher = {
        let db = Arc::clone(&db);
        tokio::spawn(async move {
            let mut t = tokio::time::interval(FLUSH_INTERVAL);
            t.tick().await;
            loop {
                t.tick().await;
                let db = Arc::clone(&db);
                match tokio::task::spawn_blocking(move || db.flush(false)).await {
                    Ok(Err(e)) => {
                        error!(component = "tsdb", err = %e, "Flushing data to disk failed")
                    }
                    Err(e) => error!(component = "tsdb", err = %e, "Flush task failed"),
                    Ok(Ok(())) => {}
                }
            }
        })
    };

    // move old head ranges into blocks as soon as there is one, and merge
    // blocks and apply retention every minute; an agent instead drops what
    // is older than its retention from the journal and idle series
    let agent_retention = (
        flags.agent_retention_min.as_millis() as i64,
        flags.agent_retention_max.as_millis() as i64,
    );
    let compactor = if flags.agent {
        let db = Arc::clone(&db);
        tokio::spawn(async move {
            let mut t = tokio::time::interval(COMPACT_INTERVAL);
            loop {
                t.tick().await;
                let db = Arc::clone(&db);
                let (min, max) = agent_retention;
                let outcome =
                    tokio::task::spawn_blocking(move || db.agent_truncate(now_ms(), min, max))
                        .await;
                match outcome {
                    Ok(Err(e)) => error!(component = "tsdb", err = %e, "Agent truncation failed"),
                    Err(e) => error!(component = "tsdb", err = %e, "Agent truncation task failed"),
                    Ok(Ok((segments, series))) if segments + series > 0 => {
                        info!(
                            component = "tsdb",
                            segments, series, "Agent storage truncated"
                        )
                    }
                    Ok(Ok(_)) => {}
                }
            }
        })
    } else {
        let db = Arc::clone(&db);
        tokio::spawn(async move {
            let mut t = tokio::time::interval(COMPACTABLE_CHECK);
            let mut last: Option<tokio::time::Instant> = None;
            // after a failure (a full disk, say) the next try waits for the
            // minute, not for the next second
            let mut failed = false;
            loop {
                t.tick().await;
                let due = last.is_none_or(|l| l.elapsed() >= COMPACT_INTERVAL);
                if !due && (failed || !db.compactable()) {
                    continue;
                }
                last = Some(tokio::time::Instant::now());
                let db = Arc::clone(&db);
                let outcome = tokio::task::spawn_blocking(move || db.compact()).await;
                failed = !matches!(outcome, Ok(Ok(_)));
                match outcome {
                    Ok(Err(e)) => error!(component = "tsdb", err = %e, "Compaction failed"),
                    Err(e) => error!(component = "tsdb", err = %e, "Compaction task failed"),
                    Ok(Ok(_)) => {}
                }
            }
        })
    };

    let sum = |app: &Arc<App>| {
        let app = Arc::clone(app);
        tokio::task::spawn_blocking(move || app.config_checksum())
    };
    // the files as loaded, taken before the server says it is ready: a
    // change made once it is ready is always seen as one
    let loaded_sum = if flags.auto_reload {
        sum(&app).await.unwrap_or(0)
    } else {
        0
    };
    app.ready.store(true, Ordering::Release);
    info!("Server is ready to receive web requests.");

    // --config.auto-reload: reload when the files' checksum changes
    if flags.auto_reload {
        let app = Arc::clone(&app);
        let every = flags.auto_reload_interval;
        info!(interval = %crate::config::PromDuration(every), "Automatic configuration file reloading enabled");
        tokio::spawn(async move {
            let mut last = loaded_sum;
            let mut t = tokio::time::interval(every);
            t.tick().await;
            loop {
                t.tick().await;
                let Ok(now) = sum(&app).await else { continue };
                if now == last {
                    continue;
                }
                last = now;
                info!("Configuration file change detected, reloading the configuration.");
                let app = Arc::clone(&app);
                let _ = tokio::task::spawn_blocking(move || app.reload()).await;
            }
        });
    }

    // SIGHUP reloads the configuration
    {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                let app = Arc::clone(&app);
                let _ = tokio::task::spawn_blocking(move || app.reload()).await;
            }
        });
    }

    let servers: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            tokio::spawn(serve(
                l,
                Arc::clone(&app),
                acceptor.clone(),
                Arc::clone(&connections),
                flags.read_timeout,
            ))
        })
        .collect();
    let sig = signal_name();
    tokio::select! {
        name = sig => {
            warn!(signal = name, "Received an OS signal, exiting gracefully...");
        }
        _ = shutdown_rx.changed() => {
            warn!("Received termination request via web service, exiting gracefully...");
        }
    }
    for s in servers {
        s.abort();
    }
    app.scrape.stop();
    info!("Stopping scrape manager...");
    app.rules.stop();
    app.rules.wait_stopped(Duration::from_secs(30)).await;
    app.remote_write.stop().await;
    flusher.abort();
    compactor.abort();
    let db2 = Arc::clone(&db);
    tokio::task::spawn_blocking(move || db2.flush(true)).await??;
    info!("See you next time!");
    Ok(())
}

/// Accepts connections on `listener` while fewer than the limit are open,
/// and serves HTTP/1.1 on each (over TLS with `acceptor`).
async fn serve(
    listener: Arc<TcpListener>,
    app: Arc<App>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    connections: Arc<tokio::sync::Semaphore>,
    read_timeout: Duration,
) {
    loop {
        let Ok(permit) = Arc::clone(&connections).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                warn!(component = "web", err = %e, "Accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = Arc::clone(&app);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = service_fn(move |req| {
                let app = Arc::clone(&app);
                async move { Ok::<_, std::convert::Infallible>(crate::web::handle(app, req).await) }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            if !read_timeout.is_zero() {
                http.timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(read_timeout);
            }
            match acceptor {
                Some(acc) => {
                    // a client that does not finish its handshake within
                    // the read timeout is let go (it holds a connection)
                    let tls = if read_timeout.is_zero() {
                        acc.accept(stream).await
                    } else {
                        match tokio::time::timeout(read_timeout, acc.accept(stream)).await {
                            Ok(r) => r,
                            Err(_) => return,
                        }
                    };
                    let Ok(tls) = tls else {
                        return;
                    };
                    let _ = http.serve_connection(TokioIo::new(tls), svc).await;
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                }
            }
        });
    }
}

/// Serves the start-up answers (see `web::starting`) on `listener` until
/// `stop` turns true; connections still open are served to their end.
async fn serve_starting(
    listener: Arc<TcpListener>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    prefix: String,
    progress: Arc<tsdb::takeover::Progress>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (acceptor, prefix, progress) =
            (acceptor.clone(), prefix.clone(), Arc::clone(&progress));
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let r = crate::web::starting::handle(&req, &prefix, &progress);
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match acceptor {
                Some(acc) => {
                    if let Ok(tls) = acc.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(tls), svc).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                }
            }
        });
    }
}

/// Logs how a take-over went.
fn log_takeover(
    plan: &tsdb::takeover::Plan,
    skipped: &tsdb::takeover::Skipped,
    progress: &tsdb::takeover::Progress,
    took: Duration,
    deleted: bool,
) {
    use std::sync::atomic::Ordering::Relaxed;
    for d in &skipped.damage {
        warn!(component = "tsdb", problem = %d, "Unreadable part of the Prometheus data, skipped");
    }
    if skipped.histograms + skipped.out_of_order + skipped.other_encodings > 0 {
        warn!(
            component = "tsdb",
            histogram_chunks_with_start_timestamps = skipped.histograms,
            out_of_order = skipped.out_of_order,
            other_encodings = skipped.other_encodings,
            kept_in = %plan.original.display(),
            "Not imported (out-of-order samples and chunks with start timestamps, XOR2 and histogramST, are not stored yet)"
        );
    }
    info!(
        component = "tsdb",
        series = progress.series.load(Relaxed),
        samples = progress.samples.load(Relaxed),
        histograms = progress.histograms.load(Relaxed),
        orphans = skipped.orphans,
        refused = skipped.refused,
        duration = ?took,
        original = %if deleted { "deleted".to_string() } else { plan.original.display().to_string() },
        "Took over the Prometheus data directory; to go back to Prometheus, stop flint and move the contents of the original folder back"
    );
}

fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let a = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    a.to_socket_addrs()
        .with_context(|| format!("invalid --web.listen-address {addr:?}"))?
        .next()
        .with_context(|| format!("no address for --web.listen-address {addr:?}"))
}

async fn signal_name() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return "";
    };
    tokio::select! {
        _ = term.recv() => "terminated",
        _ = int.recv() => "interrupt",
    }
}
