//! `process_*` metrics (resident memory, CPU seconds, open fds, start time) read from /proc, with
//! the names the Go client exports, so upstream dashboards and alerts work unchanged.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub struct ProcessCollector {
    start_time_secs: f64,
}

impl ProcessCollector {
    pub fn new() -> Self {
        let start_time_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        ProcessCollector { start_time_secs }
    }
}

/// Reads (resident bytes, virtual bytes, cpu seconds) for this process from /proc.
pub fn read_proc_self() -> Option<(u64, u64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; the name itself may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks_per_sec = 100.0; // CLK_TCK on Linux, as the Go client assumes.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let vsize: u64 = f.get(20)?.parse().ok()?;
    let rss_pages: u64 = f.get(21)?.parse().ok()?;
    Some((rss_pages * 4096, vsize, (utime + stime) / ticks_per_sec))
}

fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some((rss, vsize, cpu)) = read_proc_self() {
            let g = ConstGauge::new(rss as i64);
            g.encode(encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                None,
                g.metric_type(),
            )?)?;
            let g = ConstGauge::new(vsize as i64);
            g.encode(encoder.encode_descriptor(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                None,
                g.metric_type(),
            )?)?;
            let c = ConstCounter::new(cpu);
            c.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                c.metric_type(),
            )?)?;
        }
        if let Some(n) = open_fds() {
            let g = ConstGauge::new(n as i64);
            g.encode(encoder.encode_descriptor(
                "process_open_fds",
                "Number of open file descriptors.",
                None,
                g.metric_type(),
            )?)?;
        }
        let g = ConstGauge::new(self.start_time_secs);
        g.encode(encoder.encode_descriptor(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            None,
            g.metric_type(),
        )?)?;
        Ok(())
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}
