//! Which stream records start a delivery, from the events/ sample.

use notification_dispatcher::pending_from_stream;
use valdrix_shared::policy::Channel;

fn sample(name: &str) -> serde_json::Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn only_new_pending_deliveries_are_picked() {
    let picked = pending_from_stream(&sample("dynamodb-stream-delivery.json"));
    assert_eq!(picked, [("evt-123".to_string(), Channel::Slack)]);
}

#[test]
fn a_schedule_event_announces_no_delivery() {
    assert!(pending_from_stream(&sample("schedule-dispatcher-sweep.json")).is_empty());
}
