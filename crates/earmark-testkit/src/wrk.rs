//! Reading `wrk --latency` reports, for the benchmarks.

/// The latency at `percentile` (`"50%"`, `"99%"`) of a `wrk --latency` report, in ms;
/// NaN when the report has no such line.
pub fn latency_ms(report: &str, percentile: &str) -> f64 {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix(percentile))
        .map(|v| {
            let v = v.trim();
            if let Some(ms) = v.strip_suffix("ms") {
                ms.parse().unwrap_or(f64::NAN)
            } else if let Some(us) = v.strip_suffix("us") {
                us.parse::<f64>().unwrap_or(f64::NAN) / 1000.0
            } else if let Some(s) = v.strip_suffix('s') {
                s.parse::<f64>().unwrap_or(f64::NAN) * 1000.0
            } else {
                f64::NAN
            }
        })
        .unwrap_or(f64::NAN)
}

/// Requests per second of a `wrk` report; 0 when it has none.
pub fn requests_per_second(report: &str) -> f64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit() {
        let report = "  Latency Distribution\n     50%  812.00us\n     99%    4.99ms\n  99.9%    1.20s\nRequests/sec:   3003.11\n";
        assert_eq!(latency_ms(report, "50%"), 0.812);
        assert_eq!(latency_ms(report, "99%"), 4.99);
        assert_eq!(latency_ms(report, "99.9%"), 1200.0);
        assert!(latency_ms(report, "75%").is_nan());
        assert_eq!(requests_per_second(report), 3003.11);
    }
}
