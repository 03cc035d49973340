//! The edges of delivery (issue 12), against moto (SQS, Secrets Manager,
//! DynamoDB) and a scripted endpoint, with real SQS's refusals in front of
//! the real adapters: the order of a replayed backlog and fresh jobs,
//! header values that cannot be sent, the visibility limit counted from
//! the receive, dead letters that SQS always accepts, and the
//! invocation's deadline.

#[path = "support/rig.rs"]
mod rig;

use hookrelay_shared::attributes::REPLAY_SEQ;
use hookrelay_test_support::endpoint::TestEndpoint;
use rig::{Rig, endpoint};

fn payloads(ep: &TestEndpoint) -> Vec<u64> {
    ep.requests()
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["n"].as_u64().unwrap()
        })
        .collect()
}

/// After a replay, parked jobs R1, R2 and a new job F1 arrive in one
/// batch of the endpoint's FIFO group: SQS's order is the order.
#[tokio::test]
async fn on_a_fifo_queue_fresh_jobs_never_overtake_the_replayed_backlog() {
    let rig = Rig::new(true).await;
    let ep = TestEndpoint::start().await;
    rig.add_endpoint("erp", &endpoint(&ep.url(), "[]")).await;
    rig.publish_with("erp", 1, &[(REPLAY_SEQ, "00000000000000000007.000000000")])
        .await;
    rig.publish_with("erp", 2, &[(REPLAY_SEQ, "00000000000000000007.000000001")])
        .await;
    rig.publish("erp", 3).await;
    let (msgs, failed) = rig.round(3).await;
    assert_eq!(msgs.len(), 3, "one batch");
    assert!(failed.is_empty());
    assert_eq!(payloads(&ep), vec![1, 2, 3], "the backlog first, as queued");
}
