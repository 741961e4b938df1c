//! Parser throughput on a node-exporter-shaped body, one core: `cargo bench -p oxeye-textparse`.
//! Prints MB/s and ns per sample for the text format and OpenMetrics (strict and syntax-only),
//! for the hot path (series key + value) and with label materialization (a scrape-cache miss).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use oxeye_textparse::{Entry, Format, Parser, Validation};

/// A body shaped like node_exporter 1.x on a 16-core host with 4 disks, 8 mounts, 5 interfaces.
fn node_exporter_body(om: bool) -> String {
    let mut b = String::new();
    let counter = |b: &mut String, name: &str, help: &str| {
        let fam = if om { name.strip_suffix("_total").unwrap_or(name) } else { name };
        writeln!(b, "# HELP {fam} {help}\n# TYPE {fam} counter").unwrap();
    };
    let gauge = |b: &mut String, name: &str, help: &str| {
        writeln!(b, "# HELP {name} {help}\n# TYPE {name} gauge").unwrap();
    };
    writeln!(b, "# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.").unwrap();
    writeln!(b, "# TYPE go_gc_duration_seconds summary").unwrap();
    for (q, v) in [("0", "2.3241e-05"), ("0.25", "4.1504e-05"), ("0.5", "5.2436e-05"), ("0.75", "7.1042e-05")] {
        writeln!(b, "go_gc_duration_seconds{{quantile=\"{q}\"}} {v}").unwrap();
    }
    writeln!(b, "go_gc_duration_seconds{{quantile=\"1\"}} 0.000352617").unwrap();
    writeln!(b, "go_gc_duration_seconds_sum 0.050397374\ngo_gc_duration_seconds_count 1042").unwrap();
    for (i, g) in
        ["go_goroutines", "go_threads", "go_memstats_alloc_bytes", "go_memstats_heap_inuse_bytes"].iter().enumerate()
    {
        gauge(&mut b, g, "Go runtime statistic.");
        writeln!(b, "{g} {}", 1.7518624e7 + i as f64 * 12345.0).unwrap();
    }
    counter(&mut b, "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.");
    for cpu in 0..16 {
        for (m, mode) in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"].iter().enumerate() {
            writeln!(b, "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {}.{:02}", 362615 + cpu * 7 + m, cpu)
                .unwrap();
        }
    }
    for metric in [
        "node_disk_discard_time_seconds_total",
        "node_disk_discarded_sectors_total",
        "node_disk_discards_completed_total",
        "node_disk_discards_merged_total",
        "node_disk_flush_requests_time_seconds_total",
        "node_disk_flush_requests_total",
        "node_disk_io_time_seconds_total",
        "node_disk_io_time_weighted_seconds_total",
        "node_disk_read_bytes_total",
        "node_disk_read_time_seconds_total",
        "node_disk_reads_completed_total",
        "node_disk_reads_merged_total",
        "node_disk_write_time_seconds_total",
        "node_disk_writes_completed_total",
        "node_disk_written_bytes_total",
    ] {
        counter(&mut b, metric, "Disk statistic from /proc/diskstats.");
        for dev in ["nvme0n1", "nvme1n1", "sda", "dm-0"] {
            writeln!(b, "{metric}{{device=\"{dev}\"}} 1.234567e+09").unwrap();
        }
    }
    for metric in [
        "node_filesystem_avail_bytes",
        "node_filesystem_device_error",
        "node_filesystem_files",
        "node_filesystem_files_free",
        "node_filesystem_free_bytes",
        "node_filesystem_readonly",
        "node_filesystem_size_bytes",
    ] {
        gauge(&mut b, metric, "Filesystem statistic.");
        for (dev, mp, fs) in [
            ("/dev/nvme0n1p2", "/", "ext4"),
            ("/dev/nvme0n1p1", "/boot/efi", "vfat"),
            ("/dev/mapper/data", "/data", "xfs"),
            ("tmpfs", "/run", "tmpfs"),
            ("tmpfs", "/run/lock", "tmpfs"),
            ("tmpfs", "/run/user/1000", "tmpfs"),
            ("/dev/sda1", "/var/lib/docker", "ext4"),
            ("overlay", "/var/lib/docker/overlay2/merged", "overlay"),
        ] {
            writeln!(b, "{metric}{{device=\"{dev}\",fstype=\"{fs}\",mountpoint=\"{mp}\"}} 4.9264005120e+11").unwrap();
        }
    }
    for n in 0..20 {
        let metric = format!("node_network_stat_{n}_total");
        counter(&mut b, &metric, "Network device statistic.");
        for dev in ["eth0", "eth1", "lo", "docker0", "veth1a2b3c4"] {
            writeln!(b, "{metric}{{device=\"{dev}\"}} {}", 123456789 + n * 1000).unwrap();
        }
    }
    writeln!(b, "# HELP node_scrape_collector_duration_seconds Duration of a collector scrape.").unwrap();
    writeln!(b, "# TYPE node_scrape_collector_duration_seconds gauge").unwrap();
    for c in ["arp", "bcache", "bonding", "btrfs", "conntrack", "cpu", "cpufreq", "diskstats", "edac", "entropy"] {
        writeln!(b, "node_scrape_collector_duration_seconds{{collector=\"{c}\"}} 0.000123456").unwrap();
    }
    writeln!(b, "# HELP prometheus_http_request_duration_seconds Histogram of latencies.").unwrap();
    writeln!(b, "# TYPE prometheus_http_request_duration_seconds histogram").unwrap();
    for h in ["/metrics", "/", "/-/healthy"] {
        let mut cum = 0;
        for le in ["0.1", "0.2", "0.4", "1", "3", "8", "20", "60", "120", "+Inf"] {
            cum += 3;
            writeln!(b, "prometheus_http_request_duration_seconds_bucket{{handler=\"{h}\",le=\"{le}\"}} {cum}")
                .unwrap();
        }
        writeln!(b, "prometheus_http_request_duration_seconds_sum{{handler=\"{h}\"}} 1.5").unwrap();
        writeln!(b, "prometheus_http_request_duration_seconds_count{{handler=\"{h}\"}} {cum}").unwrap();
    }
    if om {
        b.push_str("# EOF\n");
    }
    b
}

/// Parses `body` repeatedly for about `dur`; returns (MB/s, ns per sample, samples per pass).
fn measure(body: &str, format: Format, validation: Validation, materialize: bool, dur: Duration) -> (f64, f64, u64) {
    let mut passes = 0u64;
    let mut samples = 0u64;
    let mut labels = Vec::new();
    let start = Instant::now();
    while start.elapsed() < dur {
        let mut p = Parser::with_validation(body.as_bytes(), format, validation);
        loop {
            match p.next() {
                Ok(Some(Entry::Sample(s))) => {
                    samples += 1;
                    black_box((s.series, s.value, s.timestamp_ms));
                    if materialize {
                        s.labels_into(&mut labels);
                        black_box(&labels);
                    }
                }
                Ok(Some(e)) => {
                    black_box(e);
                }
                Ok(None) => break,
                Err(e) => panic!("benchmark body must parse: {e}"),
            }
        }
        passes += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = (body.len() as f64 * passes as f64) / 1e6;
    (mb / secs, secs * 1e9 / samples as f64, samples / passes)
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent; keep that run short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let dur = Duration::from_millis(if quick { 50 } else { 2000 });
    let text = node_exporter_body(false);
    let om = node_exporter_body(true);
    println!("node-exporter-shaped body: text {} bytes, OpenMetrics {} bytes", text.len(), om.len());
    for (label, body, format, validation, materialize) in [
        ("text 0.0.4, series+value", &text, Format::PrometheusText, Validation::Strict, false),
        ("text 0.0.4, + labels", &text, Format::PrometheusText, Validation::Strict, true),
        ("OpenMetrics strict, series+value", &om, Format::OpenMetrics, Validation::Strict, false),
        ("OpenMetrics syntax-only, series+value", &om, Format::OpenMetrics, Validation::Syntax, false),
        ("OpenMetrics strict, + labels", &om, Format::OpenMetrics, Validation::Strict, true),
    ] {
        let (mbs, ns, n) = measure(body, format, validation, materialize, dur);
        println!("{label:40} {mbs:8.1} MB/s {ns:8.1} ns/sample ({n} samples/body)");
    }
}
