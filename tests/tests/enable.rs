//! Enabling an endpoint (`hookrelay_shared::enable`, what `hookrelay
//! endpoints enable` runs) against moto: Secrets Manager holds the
//! endpoint's switch, DynamoDB the state and the parked jobs, SQS the
//! outbound queue the replay writes to. And the race at the end of a
//! replay: a sender instance deciding from a state it cached seconds
//! earlier must not park a job behind a replay that is already over.

use hookrelay_shared::aws::dynamodb::health::{DynamoHealth, REPLAY_SEQ, begin_replay, disable};
use hookrelay_shared::aws::dynamodb::state_table::{ParkWhile, StateTable};
use hookrelay_shared::aws::secrets_manager::{ConfigKind, SecretNames, SecretsManagerSwitch};
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::SystemClock;
use hookrelay_shared::enable::{EnableSettings, Enabled, Parked, Step, enable};
use hookrelay_shared::health::{EndpointHealth, ParkError, ParkRequest, Parking};
use hookrelay_test_support::{moto, unique};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

struct World {
    table: StateTable,
    sm: aws_sdk_secretsmanager::Client,
    sqs: aws_sdk_sqs::Client,
    outbound: SqsQueue,
    prefix: String,
}

async fn world() -> World {
    let ddb = moto::dynamodb().await;
    let table = StateTable::new(ddb.clone(), moto::create_state_table(&ddb).await);
    let sqs = moto::sqs().await;
    let url = moto::create_queue(&sqs, "outbound", false, &[]).await;
    World {
        table,
        sm: moto::secretsmanager().await,
        outbound: SqsQueue::new(sqs.clone(), url),
        sqs,
        prefix: unique("enable"),
    }
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
}

/// No waiting: the tests play the senders themselves.
const NO_WAIT: EnableSettings = EnableSettings {
    settle: Duration::ZERO,
    config_recheck: Duration::ZERO,
};

impl World {
    async fn endpoint(&self, name: &str, enabled: bool) {
        let cfg = format!(r#"{{"url":"https://{name}.example/hooks","enabled":{enabled}}}"#);
        moto::put_secret(
            &self.sm,
            &SecretNames::new(&self.prefix).of(ConfigKind::Endpoint, name),
            &cfg,
        )
        .await;
    }

    fn switch(&self) -> SecretsManagerSwitch {
        SecretsManagerSwitch::new(self.sm.clone(), self.prefix.clone())
    }

    async fn is_on(&self, name: &str) -> bool {
        use hookrelay_shared::enable::EndpointSwitch;
        self.switch().is_on(name).await.unwrap().unwrap()
    }

    /// A sender instance whose cache never expires during a test: what a
    /// real one (5 s) is during the seconds after it read the state.
    fn sender(&self) -> DynamoHealth {
        DynamoHealth::new(self.table.clone(), Arc::new(SystemClock))
            .with_cache_ttl(Duration::from_secs(3600))
    }

    async fn enable(&self, name: &str) -> (Result<Enabled, String>, Vec<Step>) {
        let steps = Mutex::new(Vec::new());
        let parked = Parked {
            table: &self.table,
            outbound: &self.outbound,
        };
        let done = enable(&self.switch(), Some(parked), name, &NO_WAIT, &|s| {
            steps.lock().unwrap().push(s)
        })
        .await;
        (done, steps.into_inner().unwrap())
    }

    /// Job ids on the outbound queue, in replay order.
    async fn replayed(&self) -> Vec<String> {
        let mut msgs: Vec<(String, String)> = moto::drain(&self.sqs, self.outbound.url())
            .await
            .iter()
            .map(|m| {
                let seq = m
                    .message_attributes()
                    .and_then(|a| a.get(REPLAY_SEQ))
                    .and_then(|v| v.string_value())
                    .expect("a replay sequence")
                    .to_string();
                let body: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
                (seq, body["id"].as_str().unwrap().to_string())
            })
            .collect();
        msgs.sort();
        msgs.into_iter().map(|(_, id)| id).collect()
    }
}

fn job(endpoint: &str, id: &str, created: OffsetDateTime) -> String {
    format!(
        r#"{{"version":1,"id":"{id}","endpoint":"{endpoint}","event_type":"t","payload":{{}},"created_at":"{}"}}"#,
        hookrelay_shared::clock::iso_millis(created)
    )
}

async fn park(
    h: &DynamoHealth,
    endpoint: &str,
    id: &str,
    created: OffsetDateTime,
    always: bool,
) -> Result<bool, ParkError> {
    h.park(ParkRequest {
        endpoint,
        job_id: id,
        body: &job(endpoint, id, created),
        created_at: created,
        always,
    })
    .await
}

#[tokio::test]
async fn a_disabled_endpoint_replays_its_parked_jobs_in_creation_order_and_delivers_again() {
    let w = world().await;
    w.endpoint("ep", true).await;
    disable(&w.table, "ep", "maintenance", OffsetDateTime::now_utc())
        .await
        .unwrap();
    let h = w.sender();
    for (id, created) in [("job_c", at(3)), ("job_a", at(1)), ("job_b", at(2))] {
        assert!(park(&h, "ep", id, created, false).await.unwrap());
    }
    let (done, steps) = w.enable("ep").await;
    assert_eq!(
        done.unwrap(),
        Enabled::Replayed {
            was_disabled: true,
            switched_on: false,
            replayed: 3,
            disabled_again: None,
        }
    );
    assert!(steps.is_empty(), "no switch, no wait: {steps:?}");
    assert_eq!(w.replayed().await, ["job_a", "job_b", "job_c"]);
    assert_eq!(w.table.parked_count("ep").await.unwrap(), 0);
    let (state, _) = w.table.load("ep").await.unwrap();
    assert_eq!(state.parking(), Parking::No);
    assert_eq!(state.enables, 1);
}

#[tokio::test]
async fn an_endpoint_brought_back_is_announced_as_endpoint_enabled() {
    let w = world().await;
    let sns = moto::sns().await;
    let (topic, stream) = moto::topic_with_queue(&sns, &w.sqs).await;
    let notifier = hookrelay_shared::aws::sns::SnsNotifier::new(sns, topic);
    w.endpoint("back", true).await;
    disable(&w.table, "back", "maintenance", OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(
        park(&w.sender(), "back", "job_1", at(1), false)
            .await
            .unwrap()
    );
    let (done, _) = w.enable("back").await;
    let done = done.unwrap();
    let now = OffsetDateTime::now_utc();
    assert!(
        hookrelay_shared::enable::announce(&notifier, "back", &done, now)
            .await
            .unwrap()
    );
    // Enabling again has nothing to bring back: no second event.
    let (again, _) = w.enable("back").await;
    assert_eq!(again.as_ref().unwrap(), &Enabled::NothingToDo);
    assert!(
        !hookrelay_shared::enable::announce(&notifier, "back", &again.unwrap(), now)
            .await
            .unwrap()
    );
    let events = moto::drain(&w.sqs, &stream).await;
    assert_eq!(events.len(), 1);
    let e: serde_json::Value = serde_json::from_str(events[0].body().unwrap()).unwrap();
    assert_eq!(e["type"], "endpoint.enabled");
    assert_eq!(e["version"], 1);
    assert_eq!(e["endpoint"], "back");
    assert_eq!(e["replayed"], 1);
}

#[tokio::test]
async fn a_switched_off_endpoint_is_switched_on_after_the_replay_began_then_replayed() {
    let w = world().await;
    w.endpoint("off", false).await;
    let h = w.sender();
    // Switched off in its configuration: the sender parks whatever the state.
    assert!(park(&h, "off", "job_1", at(1), true).await.unwrap());
    assert!(park(&h, "off", "job_2", at(2), true).await.unwrap());
    let (done, steps) = w.enable("off").await;
    assert_eq!(
        done.unwrap(),
        Enabled::Replayed {
            was_disabled: false,
            switched_on: true,
            replayed: 2,
            disabled_again: None,
        }
    );
    assert_eq!(
        steps,
        [Step::SwitchedOn, Step::Waiting(Duration::from_secs(1))],
        "past the senders' next look at the configuration"
    );
    assert!(w.is_on("off").await);
    assert_eq!(w.replayed().await, ["job_1", "job_2"]);
}

#[tokio::test]
async fn nothing_to_do_unknown_endpoints_and_no_state_table() {
    let w = world().await;
    w.endpoint("fine", true).await;
    assert_eq!(w.enable("fine").await.0.unwrap(), Enabled::NothingToDo);
    let e = w.enable("nobody").await.0.unwrap_err();
    assert_eq!(e, "no endpoint nobody");

    w.endpoint("off", false).await;
    let done = enable(&w.switch(), None, "off", &NO_WAIT, &|_| {})
        .await
        .unwrap();
    assert_eq!(done, Enabled::ConfigurationOnly { switched_on: true });
    assert!(w.is_on("off").await);
}

/// A sender read "disabled" before the enable and still uses that state
/// (its 5-second cache) when a job arrives after the replay's last check.
/// Parking it would leave it in the table with nothing to replay it until
/// its 14-day expiry; it must be delivered instead.
#[tokio::test]
async fn a_job_parked_from_a_stale_disabled_state_after_the_replay_is_delivered_not_stranded() {
    let w = world().await;
    w.endpoint("ep", true).await;
    disable(&w.table, "ep", "maintenance", OffsetDateTime::now_utc())
        .await
        .unwrap();
    let h = w.sender();
    assert!(matches!(
        h.parking("ep").await.unwrap(),
        Parking::Disabled(_)
    ));
    assert!(park(&h, "ep", "job_early", at(1), false).await.unwrap());
    let (done, _) = w.enable("ep").await;
    assert!(matches!(
        done.unwrap(),
        Enabled::Replayed { replayed: 1, .. }
    ));

    let parked = park(&h, "ep", "job_late", at(2), false).await.unwrap();
    assert!(!parked, "not parked behind a finished replay: deliver it");
    assert_eq!(
        w.table.parked_count("ep").await.unwrap(),
        0,
        "nothing stranded"
    );
    assert_eq!(h.parking("ep").await.unwrap(), Parking::No, "state re-read");
}

/// The same with a configuration switched off: the sender's copy of it is
/// older than the enable that switched it on. The job cannot be parked
/// (nothing would replay it) and the sender cannot know the configuration
/// is on: it is refused with the reason, so the sender dead-letters it
/// (the DLQ alarm fires; `dlq redrive` delivers it).
#[tokio::test]
async fn a_job_parked_for_a_switched_off_endpoint_after_its_enable_finished_is_refused_not_stranded()
 {
    let w = world().await;
    w.endpoint("off", false).await;
    let h = w.sender();
    assert_eq!(h.parking("off").await.unwrap(), Parking::No);
    assert!(park(&h, "off", "job_early", at(1), true).await.unwrap());
    let (done, _) = w.enable("off").await;
    assert!(matches!(
        done.unwrap(),
        Enabled::Replayed { replayed: 1, .. }
    ));

    let e = park(&h, "off", "job_late", at(2), true).await.unwrap_err();
    assert_eq!(e, ParkError::EnabledMeanwhile);
    assert_eq!(
        w.table.parked_count("off").await.unwrap(),
        0,
        "nothing stranded"
    );
    // Switched off again later, a sender reading the state anew parks as before.
    w.endpoint("off", false).await;
    let fresh = w.sender();
    assert!(park(&fresh, "off", "job_next", at(3), true).await.unwrap());
}

/// A park decided from a stale "disabled" that lands while the replay is
/// between its last look at the parked jobs and its final write keeps the
/// replay from ending, so the next round replays it.
#[tokio::test]
async fn a_park_from_a_stale_state_during_the_replay_keeps_it_from_ending() {
    let w = world().await;
    disable(&w.table, "ep", "x", OffsetDateTime::now_utc())
        .await
        .unwrap();
    let h = w.sender();
    assert!(matches!(
        h.parking("ep").await.unwrap(),
        Parking::Disabled(_)
    ));
    begin_replay(&w.table, "ep", OffsetDateTime::now_utc())
        .await
        .unwrap();
    // The replay read the state and found nothing parked...
    let loaded = w.table.load_full("ep").await.unwrap();
    assert!(w.table.parked("ep", 1).await.unwrap().is_empty());
    // ...then the stale sender parks...
    assert!(park(&h, "ep", "job_1", at(1), false).await.unwrap());
    // ...and the replay's end is refused: it goes round again.
    let mut done = loaded.state.clone();
    done.finish_replay();
    assert!(
        !w.table
            .save_if_nothing_parked("ep", &done, &loaded)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn parks_are_conditional_on_the_state_they_were_decided_from() {
    let w = world().await;
    let now = OffsetDateTime::now_utc();
    let later = now + Duration::from_secs(60);
    // Never written: not disabled, not replaying, no replay finished.
    let t = &w.table;
    assert!(
        !t.park_if("ep", "j1", "{}", now, later, ParkWhile::Parking)
            .await
            .unwrap()
    );
    assert!(
        !t.park_if("ep", "j1", "{}", now, later, ParkWhile::Replaying)
            .await
            .unwrap()
    );
    assert!(
        t.park_if(
            "ep",
            "j1",
            "{}",
            now,
            later,
            ParkWhile::SwitchedOff { enables: 0 }
        )
        .await
        .unwrap()
    );
    assert!(
        !t.park_if(
            "ep",
            "j2",
            "{}",
            now,
            later,
            ParkWhile::SwitchedOff { enables: 1 }
        )
        .await
        .unwrap()
    );
    disable(t, "ep", "x", now).await.unwrap();
    assert!(
        t.park_if("ep", "j3", "{}", now, later, ParkWhile::Parking)
            .await
            .unwrap()
    );
    assert!(
        !t.park_if("ep", "j4", "{}", now, later, ParkWhile::Replaying)
            .await
            .unwrap()
    );
    assert_eq!(t.parked_count("ep").await.unwrap(), 2);
    // Every park bumped the counters the replay's end is conditional on.
    assert_eq!(t.load_full("ep").await.unwrap().counts_rev, Some(2));
}
