//! amtool 0.25, unchanged, against oxeye-alertmanager: alerts, silences (add, query, expire,
//! import), routing (`config routes show|test`, which parse `config.original` of
//! `/api/v2/status`), `cluster show` and `check-config`. The same script runs against
//! Alertmanager 0.25 itself, so every assertion is known to describe upstream behaviour.

mod common;

use std::process::Command;

use common::{AMTOOL, Am, Flavor, amtool, have};

const CONFIG: &str = "route:
  receiver: default
  group_by: [alertname]
  group_wait: 1h
  routes:
  - receiver: critical
    matchers: [severity=\"critical\"]
  - receiver: team
    match_re:
      team: (db|web)
    continue: true
  - receiver: default
    matchers: [team=\"web\"]
receivers:
- name: default
- name: critical
- name: team
";

/// Runs amtool, asserting success; returns stdout.
fn ok(args: &[&str]) -> String {
    let (code, out, err) = amtool(args);
    assert_eq!(code, 0, "amtool {args:?} failed:\nstdout: {out}\nstderr: {err}");
    out
}

/// Data rows of an amtool table (header dropped), split into columns on runs of 2+ spaces.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect())
        .collect()
}

fn run_suite(flavor: Flavor) -> usize {
    let dir = tempfile::tempdir().expect("tempdir");
    let am = Am::start(flavor, dir.path(), CONFIG, &[]);
    let url = format!("--alertmanager.url={}", am.url());
    let u = url.as_str();
    let mut passed = 0usize;
    let mut step = |name: &str| {
        passed += 1;
        eprintln!("  {}: ok {name}", flavor.name());
    };

    ok(&[u, "alert", "add", "alertname=Test", "severity=critical", "--annotation=summary=disk full"]);
    ok(&[u, "alert", "add", "alertname=Other", "severity=warning", "team=db"]);
    step("alert add");

    let all = rows(&ok(&[u, "alert", "query"]));
    let mut names: Vec<&str> = all.iter().map(|r| r[0].as_str()).collect();
    names.sort();
    assert_eq!(names, ["Other", "Test"], "alert query: {all:?}");
    let test_row = all.iter().find(|r| r[0] == "Test").expect("Test row");
    assert!(test_row.contains(&"disk full".to_string()) && test_row.last().map(String::as_str) == Some("active"));
    step("alert query");

    let only = rows(&ok(&[u, "alert", "query", "alertname=Test"]));
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!(only[0][0], "Test");
    let none = rows(&ok(&[u, "alert", "query", "severity=~info|debug"]));
    assert!(none.is_empty(), "{none:?}");
    let ext = ok(&[u, "alert", "query", "-o", "extended", "team=db"]);
    assert!(ext.contains("alertname=\"Other\"") && ext.contains("team=\"db\""), "{ext}");
    step("alert query with matchers");

    let id = ok(&[u, "silence", "add", "alertname=Test", "-c", "maintenance", "-a", "ops", "-d", "2h"]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 36, "silence add prints the id: {id:?}");
    step("silence add");

    let sils = rows(&ok(&[u, "silence", "query"]));
    assert_eq!(sils.len(), 1, "{sils:?}");
    assert_eq!(sils[0][0], id);
    assert_eq!(sils[0][1], "alertname=\"Test\"");
    assert_eq!(&sils[0][3..], ["ops", "maintenance"]);
    assert_eq!(ok(&[u, "silence", "query", "-q"]).trim(), id);
    assert!(ok(&[u, "silence", "query", "-q", "alertname=Nope"]).trim().is_empty());
    step("silence query");

    // The silenced alert leaves the default listing and shows as suppressed with -s.
    let active = rows(&ok(&[u, "alert", "query"]));
    assert_eq!(active.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["Other"], "{active:?}");
    let silenced = rows(&ok(&[u, "alert", "query", "-s", "alertname=Test"]));
    assert_eq!(silenced[0].last().map(String::as_str), Some("suppressed"), "{silenced:?}");
    step("alert query hides silenced alerts");

    let json = ok(&[u, "silence", "query", "-o", "json"]);
    let export = dir.path().join("silences.json");
    std::fs::write(&export, &json).expect("write export");
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("silence query -o json is JSON");
    assert_eq!(parsed[0]["id"], id.as_str());
    assert_eq!(parsed[0]["status"]["state"], "active");

    ok(&[u, "silence", "expire", &id]);
    assert!(rows(&ok(&[u, "silence", "query"])).is_empty());
    let expired = rows(&ok(&[u, "silence", "query", "--expired"]));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0][0], id);
    step("silence expire");

    let imported = ok(&[u, "silence", "import", export.to_str().expect("utf-8 path")]);
    let new_id = imported.trim();
    assert_eq!(new_id.len(), 36, "{imported:?}");
    assert_ne!(new_id, id);
    let sils = rows(&ok(&[u, "silence", "query"]));
    assert_eq!(sils.len(), 1);
    assert_eq!((sils[0][0].as_str(), sils[0][1].as_str()), (new_id, "alertname=\"Test\""));
    step("silence import");

    let tree = ok(&[u, "config", "routes", "show"]);
    for needle in [
        "Routing tree:",
        "default-route  receiver: default",
        "{severity=\"critical\"}  receiver: critical",
        "receiver: team",
    ] {
        assert!(tree.contains(needle), "missing {needle:?} in:\n{tree}");
    }
    step("config routes show");

    assert_eq!(ok(&[u, "config", "routes", "test", "severity=critical"]).trim(), "critical");
    assert_eq!(ok(&[u, "config", "routes", "test", "team=web"]).trim(), "team,default");
    assert_eq!(ok(&[u, "config", "routes", "test", "team=none"]).trim(), "default");
    let (code, out, _) = amtool(&[u, "config", "routes", "test", "--verify.receivers=default", "severity=critical"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("WARNING: Expected receivers did not match"), "{out}");
    step("config routes test");

    let cluster = ok(&[u, "cluster", "show", "-o", "json"]);
    let cluster: serde_json::Value = serde_json::from_str(&cluster).expect("cluster show -o json");
    assert_eq!(cluster["status"], "disabled");
    assert!(ok(&[u, "cluster", "show"]).contains("Cluster Status:  disabled"));
    step("cluster show");

    let cfg = dir.path().join("check.yml");
    std::fs::write(&cfg, CONFIG).expect("write config");
    let out = ok(&["check-config", cfg.to_str().expect("utf-8 path")]);
    assert!(out.contains("SUCCESS") && out.contains(" - 3 receivers"), "{out}");
    step("check-config");
    passed
}

#[test]
fn amtool_against_reference_alertmanager() {
    if !have(AMTOOL) || !have(common::ALERTMANAGER) {
        eprintln!("skipping: amtool or alertmanager not installed");
        return;
    }
    let n = run_suite(Flavor::Reference);
    println!("amtool against alertmanager 0.25: {n} command groups passed");
}

#[test]
fn amtool_against_oxeye() {
    if !have(AMTOOL) {
        eprintln!("skipping: amtool not installed");
        return;
    }
    let n = run_suite(Flavor::Oxeye);
    println!("amtool against oxeye-alertmanager: {n} command groups passed");
}

/// `oxeye-alertmanager check-config` reports like `amtool check-config`, with its exit code.
#[test]
fn check_config_subcommand_matches_amtool() {
    if !have(AMTOOL) {
        eprintln!("skipping: amtool not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.yml");
    std::fs::write(&good, CONFIG).expect("write");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "route:\n  receiver: missing\nreceivers:\n- name: x\n").expect("write");
    for files in [vec![&good], vec![&bad, &good]] {
        let args: Vec<&str> = files.iter().map(|p| p.to_str().expect("utf-8 path")).collect();
        let theirs = Command::new(AMTOOL).arg("check-config").args(&args).output().expect("amtool");
        let ours = Command::new(common::OXEYE_AM).arg("check-config").args(&args).output().expect("oxeye");
        assert_eq!(ours.status.code(), theirs.status.code(), "exit codes for {args:?}");
        let (o, t) = (String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&theirs.stdout));
        if files.len() == 1 {
            assert_eq!(o, t, "stdout for {args:?}");
        } else {
            // Error texts may be worded differently; the verdict lines must agree.
            let verdicts = |s: &str| -> Vec<String> {
                s.lines()
                    .filter(|l| l.starts_with("Checking"))
                    .map(|l| if l.contains("SUCCESS") { "SUCCESS" } else { "FAILED" }.to_string())
                    .collect()
            };
            assert_eq!(verdicts(&o), verdicts(&t), "ours:\n{o}\ntheirs:\n{t}");
        }
    }
}
