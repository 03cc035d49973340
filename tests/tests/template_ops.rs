//! The template's operations resources agree with the code: every metric
//! an alarm or the dashboard reads from the functions' namespace is one the
//! functions write (`hookrelay_shared::metrics::names`), the refusals alarm
//! watches the metric the receiver counts when it announces
//! `source.refusals_high`, and every alarm notifies the notice topic.

use hookrelay_shared::metrics::names::{ALL, SOURCE_REFUSALS_HIGH};
use hookrelay_test_support::repo_root;

fn template() -> String {
    std::fs::read_to_string(repo_root().join("template.yaml")).unwrap()
}

fn known(name: &str) -> bool {
    ALL.iter().any(|m| m.name == name)
}

#[test]
fn alarms_and_the_dashboard_read_only_metrics_the_functions_write() {
    let t = template();
    let lines: Vec<&str> = t.lines().collect();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = line.trim().strip_prefix("MetricName: ") else {
            continue;
        };
        // The namespace named just before it (alarm or metric stat).
        let ns = lines[..i]
            .iter()
            .rev()
            .find(|l| l.trim().starts_with("Namespace:"))
            .unwrap();
        if ns.contains("HasMetricsNamespace") {
            assert!(known(name), "template alarm reads unknown metric {name}");
            checked += 1;
        }
    }
    // Dashboard: SEARCH expressions and metric arrays in the namespace.
    let searches: Vec<&str> = t.split("MetricName=\\\"").skip(1).collect();
    assert_eq!(searches.len(), 3, "the dashboard's SEARCH expressions");
    for part in searches {
        let name = part.split('\\').next().unwrap();
        assert!(known(name), "dashboard searches unknown metric {name}");
        checked += 1;
    }
    for part in t.split("\"${Ns}\",").skip(1) {
        let name = part
            .trim()
            .trim_start_matches('"')
            .split('"')
            .next()
            .unwrap();
        assert!(known(name), "dashboard shows unknown metric {name}");
        checked += 1;
    }
    assert!(
        checked >= 20,
        "only {checked} references found: the checks are blind"
    );
}

#[test]
fn the_refusals_alarm_watches_what_the_receiver_counts_when_it_announces() {
    let t = template();
    let alarm = t
        .split("\n  SourceRefusalsHighAlarm:\n")
        .nth(1)
        .expect("SourceRefusalsHighAlarm")
        .split("\n\n")
        .next()
        .unwrap();
    assert!(alarm.contains(&format!("MetricName: {}", SOURCE_REFUSALS_HIGH.name)));
    assert!(alarm.contains("HasMetricsNamespace"));
}

#[test]
fn every_alarm_notifies_the_notice_topic() {
    let t = template();
    let alarms = t.matches("Type: AWS::CloudWatch::Alarm").count();
    assert!(alarms >= 10, "{alarms}");
    assert_eq!(t.matches("      AlarmActions:").count(), alarms);
    assert_eq!(
        t.matches("AlarmActions: !If [HasAlarmTopic, [!Ref NoticeTopic, !Ref AlarmTopicArn], [!Ref NoticeTopic]]")
            .count(),
        alarms
    );
}
