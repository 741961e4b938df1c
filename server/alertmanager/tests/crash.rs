//! Silences and the notification log survive `kill -9`: both are written to --storage.path when
//! they change, so a crash right after a silence is created or a notification is sent neither
//! loses the silence nor sends the notification again.

mod common;

use std::time::{Duration, Instant};

use common::{Am, Flavor, WebhookRecorder, rfc3339};
use serde_json::json;

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn silences_and_notification_log_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = WebhookRecorder::start();
    let config = format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 200ms\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: '{}'\n",
        hook.url("/hook")
    );
    let mut am = Am::start(Flavor::Oxeye, dir.path(), &config, &[]);
    let now = chrono::Utc::now();

    // A silence, then an alert that it does not cover, notified once.
    let (code, body) = am.post_json(
        "/api/v2/silences",
        &json!({
            "matchers": [{"name": "alertname", "value": "Silenced", "isRegex": false, "isEqual": true}],
            "startsAt": rfc3339(now),
            "endsAt": rfc3339(now + chrono::Duration::hours(1)),
            "createdBy": "crash-test",
            "comment": "must survive kill -9",
        }),
    );
    assert_eq!(code, 200, "{body}");
    let silence_id = serde_json::from_str::<serde_json::Value>(&body).expect("JSON")["silenceID"]
        .as_str()
        .expect("silenceID")
        .to_string();
    let alert = json!([{"labels": {"alertname": "Loud", "instance": "a"}, "startsAt": rfc3339(now)}]);
    assert_eq!(am.post_json("/api/v2/alerts", &alert).0, 200);
    wait_until("the first notification", Duration::from_secs(10), || hook.take().len() == 1);

    am.kill9_and_restart(1);

    let silence = am.get_json(&format!("/api/v2/silence/{silence_id}"));
    assert_eq!(silence["comment"], "must survive kill -9", "{silence}");
    assert_eq!(silence["status"]["state"], "active", "{silence}");

    // Senders re-post firing alerts after a restart; the notification log knows this group was
    // already notified, so nothing is sent again before repeat_interval (1h).
    assert_eq!(am.post_json("/api/v2/alerts", &alert).0, 200);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(hook.take().len(), 1, "the notification was sent again after kill -9");

    // A new alert in the same group still notifies (the firing set grew).
    let more = json!([{"labels": {"alertname": "Loud", "instance": "b"}, "startsAt": rfc3339(now)}]);
    assert_eq!(am.post_json("/api/v2/alerts", &more).0, 200);
    wait_until("the notification for the grown group", Duration::from_secs(10), || hook.take().len() == 2);
}
