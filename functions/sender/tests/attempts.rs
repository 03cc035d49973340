//! What counts as an attempt, against moto (SQS, Secrets Manager, DynamoDB)
//! and a scripted endpoint: records held behind a failing one in an ordered
//! group and infrastructure retries are receives, not attempts; jobs that
//! cannot be signed go to the DLQ at once without touching the endpoint's
//! health.

#[path = "support/rig.rs"]
mod rig;

use hookrelay_shared::attempts::AttemptLog;
use hookrelay_shared::aws::dynamodb::attempts::DynamoAttempts;
use hookrelay_shared::clock::SystemClock;
use hookrelay_test_support::endpoint::{Reply, TestEndpoint};
use hookrelay_test_support::faults::{Fault, Faults};
use rig::{Options, Rig, attr, endpoint, payload_n, receive_count};
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[tokio::test]
async fn records_held_behind_a_failing_one_keep_their_whole_schedule() {
    let rig = Rig::new(true).await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(500));
    rig.add_endpoint("ord", &endpoint(&ep.url(), r#"["5s","5s"]"#))
        .await;
    rig.publish("ord", 1).await;
    rig.publish("ord", 2).await;

    // Job 1 fails three times; job 2 comes along each time, unattempted.
    for round in 1..=3u32 {
        let (msgs, failed) = rig.round(2).await;
        assert_eq!(msgs.iter().map(payload_n).collect::<Vec<_>>(), vec![1, 2]);
        assert!(msgs.iter().all(|m| receive_count(m) == round));
        if round < 3 {
            assert_eq!(failed.len(), 2, "job 1 retried, job 2 held back");
        }
    }
    // In round 3 job 1 ran out and went to the DLQ; job 2, received three
    // times already, had its first real attempt: retried, not dead-lettered.
    let dead = rig.dead().await;
    assert_eq!(dead.len(), 1, "only job 1 is dead");
    assert_eq!(payload_n(&dead[0]), 1);
    assert_eq!(attr(&dead[0], "hookrelay-attempts"), "3");
    // Job 2 gets its own three attempts.
    let (_, failed) = rig.round(1).await;
    assert_eq!(failed.len(), 1);
    let (msgs, failed) = rig.round(1).await;
    assert_eq!(receive_count(&msgs[0]), 5);
    assert!(failed.is_empty(), "third attempt: dead-lettered");
    let dead = rig.dead().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(payload_n(&dead[0]), 2);
    assert_eq!(attr(&dead[0], "hookrelay-attempts"), "3");
    assert_eq!(attr(&dead[0], "hookrelay-reason"), "retries-exhausted");

    let per_job = |n: u8| {
        ep.requests()
            .iter()
            .filter(|r| r.body == format!(r#"{{"n":{n}}}"#).as_bytes())
            .count()
    };
    assert_eq!((per_job(1), per_job(2)), (3, 3), "three real attempts each");
    assert_eq!(rig.changes(), vec![5, 5, 5, 5], "each job's own schedule");
}

#[tokio::test]
async fn an_outage_of_our_own_backs_off_and_spends_no_attempts() {
    let rig = Rig::new(false).await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(500));
    rig.add_endpoint("crm", &endpoint(&ep.url(), r#"["5s","5s"]"#))
        .await;
    rig.publish("crm", 1).await;

    rig.secrets.is_down.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let (_, failed) = rig.round(1).await;
        assert_eq!(failed.len(), 1);
    }
    assert_eq!(
        rig.changes(),
        vec![30, 60, 120],
        "backs off with the receives"
    );
    assert!(ep.requests().is_empty());

    rig.secrets.is_down.store(false, Ordering::SeqCst);
    for attempt in 1..=3 {
        let (msgs, failed) = rig.round(1).await;
        assert_eq!(receive_count(&msgs[0]), 3 + attempt);
        assert_eq!(failed.len(), usize::from(attempt < 3), "attempt {attempt}");
    }
    assert_eq!(
        ep.requests().len(),
        3,
        "the whole schedule after the outage"
    );
    assert_eq!(rig.changes()[3..], [5, 5]);
    let dead = rig.dead().await;
    assert_eq!(attr(&dead[0], "hookrelay-attempts"), "3");
}

#[tokio::test]
async fn jobs_that_cannot_be_signed_are_dead_at_once_and_the_endpoint_stays_healthy() {
    let rig = Rig::new(false).await;
    let ep = TestEndpoint::start().await;
    // Its only key expired: nothing can be signed until someone adds one.
    rig.add_endpoint(
        "expired",
        &format!(
            r#"{{"url":"{}","allow_http":true,"signature":{{"keys":[{{"secret":"whsec_dGVzdA==","not_after":"2020-01-01T00:00:00Z"}}]}}}}"#,
            ep.url()
        ),
    )
    .await;
    rig.publish("expired", 1).await;
    let (_, failed) = rig.round(1).await;
    assert!(failed.is_empty(), "not retried");
    assert!(ep.requests().is_empty());
    let dead = rig.dead().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(attr(&dead[0], "hookrelay-reason"), "cannot-sign");
    assert_eq!(attr(&dead[0], "hookrelay-last-status"), "cannot-sign");
    assert!(attr(&dead[0], "hookrelay-error").contains("no active key"));
    let (state, rev) = rig.table.load("expired").await.unwrap();
    assert_eq!(rev, None, "nothing recorded against the endpoint's health");
    assert!(!state.is_disabled());
}

#[tokio::test]
async fn the_attempt_log_counts_per_message_and_once_per_receive() {
    let rig = Rig::new(false).await;
    let log = DynamoAttempts::new(rig.table.clone(), Arc::new(SystemClock));
    // First receive's failure, then the second receive's attempt.
    assert_eq!(log.count("m-1", 1).await.unwrap(), Some(1));
    assert_eq!(log.count("m-1", 2).await.unwrap(), Some(2));
    // The same receive again (a write repeated after a lost answer): no change.
    assert_eq!(log.count("m-1", 2).await.unwrap(), Some(2));
    assert_eq!(log.count("m-2", 1).await.unwrap(), Some(1), "per message");
    assert_eq!(log.count("m-1", 4).await.unwrap(), Some(3));
    // Nothing written before receive 3: both earlier receives count.
    assert_eq!(log.count("m-3", 3).await.unwrap(), Some(3));
    // A first receive without an attempt is not counted later.
    log.not_attempted("m-4", 1).await.unwrap();
    log.not_attempted("m-4", 2).await.unwrap();
    assert_eq!(log.count("m-4", 3).await.unwrap(), Some(1));
    assert_eq!(log.made("m-1", 5).await.unwrap(), Some(3));
    assert_eq!(log.made("m-5", 1).await.unwrap(), Some(0));
    assert_eq!(log.made("m-5", 2).await.unwrap(), None);
}

/// Issue 18: when the state table's write that counts an attempt fails (or
/// its answer is lost), the job still gets exactly the attempts its
/// schedule allows, and the dead letter's `hookrelay-attempts` is what the
/// endpoint saw. The attempt log is the real adapter over moto, with
/// faults injected into its DynamoDB calls.
#[tokio::test]
async fn a_schedule_never_runs_past_its_end_when_counting_fails() {
    let cases = [
        (
            "the first receive's count fails",
            1,
            Some(Fault::Fail),
            None,
        ),
        (
            "the second receive's count fails",
            2,
            Some(Fault::Fail),
            None,
        ),
        (
            "the second receive's answer is lost",
            2,
            None,
            Some(Fault::LoseAnswer),
        ),
    ];
    for (case, in_round, every, next) in cases {
        let faults = Faults::new("UpdateItem");
        let rig = Rig::with(Options {
            attempt_faults: Some(faults.clone()),
            ..Options::default()
        })
        .await;
        let ep = TestEndpoint::start().await;
        ep.set_default(Reply::status(500));
        rig.add_endpoint("crm", &endpoint(&ep.url(), r#"["5s","5s"]"#))
            .await;
        rig.publish("crm", 1).await;
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds <= 8, "{case}: never dead-lettered");
            if rounds == in_round {
                faults.every(every);
                if let Some(f) = next {
                    faults.next(f);
                }
            }
            let (_, failed) = rig.round(1).await;
            faults.every(None);
            if failed.is_empty() {
                break;
            }
        }
        assert!(faults.counts().1 > 0, "{case}: a fault was injected");
        assert_eq!(ep.requests().len(), 3, "{case}: three attempts, no more");
        let dead = rig.dead().await;
        assert_eq!(dead.len(), 1, "{case}");
        assert_eq!(attr(&dead[0], "hookrelay-reason"), "retries-exhausted");
        assert_eq!(attr(&dead[0], "hookrelay-attempts"), "3", "{case}");
    }
}
