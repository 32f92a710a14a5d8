//! Prometheus metrics: HTTP traffic measured as it happens, job gauges read at scrape time.

use std::sync::Mutex;

use earmark_core::{JobStatus, TaskType};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of HTTP metrics: the route pattern, never the concrete path (ids, tokens).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The matched route, e.g. `/jobs/{id}`; `unmatched` otherwise.
    pub route: String,
    /// Response status.
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneStatus {
    lane: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Lane {
    lane: String,
}

/// Every metric earmark exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Family<HttpLabels, Histogram>,
    jobs: Family<LaneStatus, Gauge>,
    running: Family<Lane, Gauge>,
    capacity: Family<Lane, Gauge>,
    queued: Family<Lane, Gauge>,
    // Scrapes set the job gauges and encode them; one at a time keeps them consistent.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("earmark");
        let requests = Family::<HttpLabels, Counter>::default();
        let latency = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let jobs = Family::<LaneStatus, Gauge>::default();
        let running = Family::<Lane, Gauge>::default();
        let capacity = Family::<Lane, Gauge>::default();
        let queued = Family::<Lane, Gauge>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            latency.clone(),
        );
        registry.register("jobs", "Jobs in the queue by lane and status", jobs.clone());
        registry.register(
            "lane_running",
            "Jobs running in this process by lane",
            running.clone(),
        );
        registry.register(
            "lane_capacity",
            "Jobs this process runs at once by lane",
            capacity.clone(),
        );
        registry.register(
            "queue_depth",
            "Jobs waiting (QUEUED) by lane",
            queued.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            jobs,
            running,
            capacity,
            queued,
            scrape: Mutex::new(()),
        }
    }
}

fn lane_name(task_type: TaskType) -> String {
    task_type.as_str().to_ascii_lowercase()
}

impl Metrics {
    /// Records one answered request.
    pub fn observe_request(&self, labels: HttpLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// The text exposition, with job gauges set from `counts` (kind, status, number),
    /// `running` and `capacity`.
    pub fn render(
        &self,
        counts: &[(TaskType, JobStatus, u64)],
        running: &dyn Fn(TaskType) -> usize,
        capacity: &dyn Fn(TaskType) -> usize,
    ) -> Result<String, std::fmt::Error> {
        let _one_at_a_time = self.scrape.lock().map_err(|_| std::fmt::Error)?;
        for lane in TaskType::ALL {
            for status in JobStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(t, s, _)| t == lane && s == status)
                    .map_or(0, |(_, _, n)| *n);
                self.jobs
                    .get_or_create(&LaneStatus {
                        lane: lane_name(*lane),
                        status: status.as_str().to_owned(),
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            let key = Lane {
                lane: lane_name(*lane),
            };
            let queued = counts
                .iter()
                .find(|(t, s, _)| t == lane && *s == JobStatus::Queued)
                .map_or(0, |(_, _, n)| *n);
            self.queued
                .get_or_create(&key)
                .set(i64::try_from(queued).unwrap_or(i64::MAX));
            self.running
                .get_or_create(&key)
                .set(i64::try_from(running(*lane)).unwrap_or(i64::MAX));
            self.capacity
                .get_or_create(&key)
                .set(i64::try_from(capacity(*lane)).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
