//! Request metrics in the Prometheus text format, kept with plain atomics and a small map
//! (no metrics framework needed for a handful of series).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) -> latency series.
    requests: Mutex<BTreeMap<(String, &'static str, u16), Series>>,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub gc_blobs_deleted: AtomicU64,
    pub gc_uploads_deleted: AtomicU64,
    pub gc_runs: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &'static str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry((method.to_string(), route, status)).or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP strata_registry_http_requests_total HTTP requests handled.\n");
        out.push_str("# TYPE strata_registry_http_requests_total counter\n");
        let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((m, r, s), series) in map.iter() {
            let _ = writeln!(
                out,
                "strata_registry_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {}",
                series.count
            );
        }
        out.push_str("# HELP strata_registry_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE strata_registry_http_request_duration_seconds histogram\n");
        let mut by_route: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((m, r, _), s) in map.iter() {
            let agg = by_route.entry((m.as_str(), r)).or_default();
            agg.count += s.count;
            agg.sum += s.sum;
            for i in 0..BUCKETS.len() {
                agg.buckets[i] += s.buckets[i];
            }
        }
        for ((m, r), s) in &by_route {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "strata_registry_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let labels = format!("method=\"{m}\",route=\"{r}\"");
            let _ = writeln!(
                out,
                "strata_registry_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "strata_registry_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "strata_registry_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        for (name, help, v) in [
            (
                "strata_registry_bytes_sent_total",
                "Blob and manifest bytes sent.",
                &self.bytes_sent,
            ),
            (
                "strata_registry_bytes_received_total",
                "Bytes received in uploads.",
                &self.bytes_received,
            ),
            (
                "strata_registry_gc_runs_total",
                "Garbage collection runs.",
                &self.gc_runs,
            ),
            (
                "strata_registry_gc_blobs_deleted_total",
                "Blobs removed by GC.",
                &self.gc_blobs_deleted,
            ),
            (
                "strata_registry_gc_uploads_deleted_total",
                "Abandoned uploads removed by GC.",
                &self.gc_uploads_deleted,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        out
    }
}
