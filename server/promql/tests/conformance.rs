//! Runs Prometheus's PromQL test scripts (`shared/conformance/promql`) through the evaluator,
//! prints the pass count per file and asserts a floor that only rises.

use std::path::PathBuf;

/// Passing evals over the non-native-histogram files. Raise it when the count rises.
const PASS_FLOOR: usize = 713;

#[test]
fn promql_conformance() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/promql");
    assert!(
        dir.is_dir(),
        "conformance scripts not found at {}; the shared/conformance checkout is missing",
        dir.display()
    );
    let reports = oxeye_promql::promqltest::run_dir(&dir);
    assert!(!reports.is_empty(), "no .test files in {}", dir.display());
    let (mut passed, mut total, mut rc_passed, mut rc_total) = (0, 0, 0, 0);
    for (name, r) in &reports {
        println!(
            "promql conformance: {name}: {}/{} (range-mode re-checks {}/{})",
            r.evals_passed, r.evals_total, r.range_checks_passed, r.range_checks_total
        );
        if std::env::var_os("PROMQL_CONFORMANCE_VERBOSE").is_some() {
            for f in r.failures.iter().chain(r.range_check_failures.iter()) {
                println!("    {f}");
            }
        }
        if name != "native_histograms.test" {
            passed += r.evals_passed;
            total += r.evals_total;
            rc_passed += r.range_checks_passed;
            rc_total += r.range_checks_total;
        }
    }
    println!("promql conformance: total (excluding native_histograms.test): {passed}/{total}");
    println!("promql conformance: range-mode re-checks (excluding native_histograms.test): {rc_passed}/{rc_total}");
    assert!(total > 0);
    assert!(passed * 100 >= total * 70, "pass ratio {passed}/{total} is below 70%");
    assert!(passed >= PASS_FLOOR, "pass count {passed} fell below the floor {PASS_FLOOR}");
}
