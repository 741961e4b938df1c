//! `cargo bench -p oxeye --bench ingest`: Oxeye side by side with Prometheus 2.42 and
//! VictoriaMetrics 1.79 on one machine, one server at a time, against the same in-process
//! synthetic targets. See docs/benchmarks.md for what is measured and how; the settings are
//! environment variables (OXEYE_BENCH_TARGETS, OXEYE_BENCH_SERIES, OXEYE_BENCH_SECONDS, ...).

mod dataset;
mod oxeye_blocks;
mod procfs;
mod queries;
mod report;
mod run;
mod servers;
mod targets;
mod workload;

fn main() -> std::process::ExitCode {
    let env = run::BenchEnv {
        oxeye_bin: Some(env!("CARGO_BIN_EXE_oxeye").into()),
        workspace_target: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    };
    match run::main(env) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
