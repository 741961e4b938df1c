//! What the kernel says about a process, and directory sizes.

use std::path::Path;

/// Clock ticks per second for /proc/<pid>/stat times.
pub fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// utime + stime of `pid` (all its threads), in seconds.
pub fn cpu_seconds(pid: u32, tck: f64) -> anyhow::Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &s[s.rfind(')').ok_or_else(|| anyhow::anyhow!("bad stat"))? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime field 14, stime field 15.
    let utime: f64 = f.get(11).ok_or_else(|| anyhow::anyhow!("bad stat"))?.parse()?;
    let stime: f64 = f.get(12).ok_or_else(|| anyhow::anyhow!("bad stat"))?.parse()?;
    Ok((utime + stime) / tck)
}

/// A field of /proc/<pid>/status in bytes (VmRSS, VmHWM ...).
pub fn status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse()?;
            return Ok(kb * 1024);
        }
    }
    anyhow::bail!("{field} not in /proc/{pid}/status")
}

pub fn self_pid() -> u32 {
    std::process::id()
}

/// Apparent size of every regular file under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    for e in rd.flatten() {
        let Ok(md) = e.metadata() else { continue };
        if md.is_dir() {
            total += dir_bytes(&e.path());
        } else if md.is_file() {
            total += md.len();
        }
    }
    total
}

/// Sizes of the immediate subdirectories and files of `dir` (for the report's breakdown).
pub fn dir_breakdown(dir: &Path) -> Vec<(String, u64)> {
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return v };
    for e in rd.flatten() {
        let Ok(md) = e.metadata() else { continue };
        let size = if md.is_dir() { dir_bytes(&e.path()) } else { md.len() };
        v.push((e.file_name().to_string_lossy().into_owned(), size));
    }
    v.sort();
    v
}

/// The 1-minute load average: other work on the machine during a run shows here.
pub fn loadavg1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}
