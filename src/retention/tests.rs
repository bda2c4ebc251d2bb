//! The retention rules as a table: synthetic timelines, many policies, and the kept set each
//! must give, worked out by hand from the rules (calendar facts used: 2024-01-01 is a Monday,
//! 2024 is a leap year, 2024-06-30 is a Sunday, 2021-01-03 belongs to ISO week 53 of 2020).

use super::*;
use crate::repo::Id;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Backups at the given times, with tags; ids derived from the time.
struct Timeline {
    backups: Vec<(BackupId, Timestamp, Vec<String>)>,
}

impl Timeline {
    fn new(times: impl IntoIterator<Item = (Timestamp, Vec<String>)>) -> Timeline {
        Timeline {
            backups: times
                .into_iter()
                .map(|(time, tags)| (Id::of_object(&time.0.to_le_bytes()), time, tags))
                .collect(),
        }
    }

    fn kept(&self, policy: &Policy, now: Timestamp) -> Vec<String> {
        let mut kept: Vec<String> = self
            .decide(policy, now)
            .iter()
            .filter(|d| d.keep())
            .map(|d| d.time.to_string())
            .collect();
        kept.sort();
        kept
    }

    fn decide(&self, policy: &Policy, now: Timestamp) -> Vec<Decision> {
        let candidates: Vec<Candidate> = self
            .backups
            .iter()
            .map(|(id, time, tags)| Candidate {
                id: *id,
                time: *time,
                tags,
            })
            .collect();
        apply(policy, &candidates, now)
    }

    fn reasons_at(&self, policy: &Policy, now: Timestamp, time: &str) -> Vec<String> {
        let decisions = self.decide(policy, now);
        let decision = decisions.iter().find(|d| d.time == t(time)).unwrap();
        decision.reasons.iter().map(|r| r.to_string()).collect()
    }
}

/// Every hour at :30 from 2024-01-01 to 2024-06-30 (182 days, 4,368 backups). Tags: `monthly`
/// on the 00:30 backup of each month's first day, `noon` on every 12:30 backup, and `noon` plus
/// `sunday` on Sundays at 12:30.
fn hourly_half_year() -> Timeline {
    let start = t("2024-01-01T00:30:00Z").0;
    Timeline::new((0..182 * 24).map(|i| {
        let time = Timestamp(start + i * 3600);
        let text = time.to_string();
        let day_index = i / 24;
        let mut tags = Vec::new();
        if text.ends_with("-01T00:30:00Z") {
            tags.push("monthly".to_string());
        }
        if text.ends_with("T12:30:00Z") {
            tags.push("noon".to_string());
            if day_index % 7 == 6 {
                tags.push("sunday".to_string());
            }
        }
        (time, tags)
    }))
}

/// Each hourly backup from `first` to `last` inclusive (both at :30).
fn hours(first: &str, last: &str) -> Vec<String> {
    let (first, last) = (t(first).0, t(last).0);
    (0..=(last - first) / 3600)
        .map(|i| Timestamp(first + i * 3600).to_string())
        .collect()
}

/// Sorted full timestamps from `YYYY-MM-DD HH:MM` shorthands.
fn times(list: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .map(|s| format!("{}:00Z", s.replace(' ', "T")))
        .collect();
    out.sort();
    out
}

fn policy(flags: &str) -> Policy {
    let mut policy = Policy::default();
    let words: Vec<&str> = flags.split_whitespace().collect();
    for pair in words.chunks(2) {
        let value = pair[1];
        let count = || value.parse::<KeepCount>().unwrap();
        match pair[0] {
            "last" => policy.last = Some(count()),
            "hourly" => policy.hourly = Some(count()),
            "daily" => policy.daily = Some(count()),
            "weekly" => policy.weekly = Some(count()),
            "monthly" => policy.monthly = Some(count()),
            "yearly" => policy.yearly = Some(count()),
            "within" => policy.within = Some(value.parse().unwrap()),
            "tag" => policy.tags.push(value.trim_matches('"').parse().unwrap()),
            other => panic!("unknown rule {other}"),
        }
    }
    policy
}

#[test]
fn hourly_timeline_keeps_what_each_policy_says() {
    let timeline = hourly_half_year();
    assert_eq!(timeline.backups.len(), 4368);
    let now = t("2024-07-01T00:00:00Z");
    let month_ends = times(&[
        "2024-06-30 23:30",
        "2024-05-31 23:30",
        "2024-04-30 23:30",
        "2024-03-31 23:30",
        "2024-02-29 23:30",
        "2024-01-31 23:30",
    ]);
    let sundays_at_noon: Vec<String> = (0..26)
        .map(|week| Timestamp(t("2024-01-07T12:30:00Z").0 + week * 7 * 86_400).to_string())
        .collect();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "last 5",
            hours("2024-06-30T19:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        (
            "hourly 5",
            hours("2024-06-30T19:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        // Hours only count when they have a backup: 24 of the last day, 6 of the day before.
        (
            "hourly 30",
            hours("2024-06-29T18:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        (
            "last unlimited",
            hours("2024-01-01T00:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        (
            "hourly unlimited",
            hours("2024-01-01T00:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        (
            "daily 3",
            times(&["2024-06-30 23:30", "2024-06-29 23:30", "2024-06-28 23:30"]),
        ),
        // ISO weeks end on Sunday; 2024-06-30 is one.
        (
            "weekly 3",
            times(&["2024-06-30 23:30", "2024-06-23 23:30", "2024-06-16 23:30"]),
        ),
        ("monthly 6", month_ends.clone()),
        (
            "monthly 4",
            times(&[
                "2024-06-30 23:30",
                "2024-05-31 23:30",
                "2024-04-30 23:30",
                "2024-03-31 23:30",
            ]),
        ),
        // Ten months asked for, six exist: restic 0.14 keeps nothing more (later restic
        // releases would keep the oldest backup too).
        ("monthly 10", month_ends.clone()),
        ("monthly unlimited", month_ends.clone()),
        ("yearly 1", times(&["2024-06-30 23:30"])),
        ("yearly 3", times(&["2024-06-30 23:30"])),
        // Strictly after the newest minus the duration: 20:30 is exactly 3 h before.
        (
            "within 3h",
            hours("2024-06-30T21:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        (
            "within 2d",
            hours("2024-06-29T00:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        // 2024-06-30 23:30 minus one month is 2024-05-30 23:30.
        (
            "within 1m",
            hours("2024-05-31T00:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        (
            "within 1m1d1h",
            hours("2024-05-29T23:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        (
            "within 1y",
            hours("2024-01-01T00:30:00Z", "2024-06-30T23:30:00Z"),
        ),
        (
            "daily 7 weekly 4 monthly 3",
            times(&[
                "2024-06-24 23:30",
                "2024-06-25 23:30",
                "2024-06-26 23:30",
                "2024-06-27 23:30",
                "2024-06-28 23:30",
                "2024-06-29 23:30",
                "2024-06-30 23:30",
                "2024-06-23 23:30",
                "2024-06-16 23:30",
                "2024-06-09 23:30",
                "2024-05-31 23:30",
                "2024-04-30 23:30",
            ]),
        ),
        (
            "tag monthly",
            times(&[
                "2024-01-01 00:30",
                "2024-02-01 00:30",
                "2024-03-01 00:30",
                "2024-04-01 00:30",
                "2024-05-01 00:30",
                "2024-06-01 00:30",
            ]),
        ),
        (
            "tag monthly last 1",
            times(&[
                "2024-01-01 00:30",
                "2024-02-01 00:30",
                "2024-03-01 00:30",
                "2024-04-01 00:30",
                "2024-05-01 00:30",
                "2024-06-01 00:30",
                "2024-06-30 23:30",
            ]),
        ),
        // A tag list needs all its tags.
        ("tag noon,sunday", sundays_at_noon.clone()),
        // Two lists: either one keeps.
        ("tag sunday tag monthly", {
            let mut both = sundays_at_noon;
            both.extend(times(&[
                "2024-01-01 00:30",
                "2024-02-01 00:30",
                "2024-03-01 00:30",
                "2024-04-01 00:30",
                "2024-05-01 00:30",
                "2024-06-01 00:30",
            ]));
            both.sort();
            both
        }),
    ];
    for (flags, expected) in cases {
        assert_eq!(
            timeline.kept(&policy(flags), now),
            expected,
            "policy {flags}"
        );
    }
    // The untagged ones: all but the 6 monthly and 182 noon backups.
    let untagged = timeline.kept(&policy("tag \"\""), now);
    assert_eq!(untagged.len(), 4368 - 6 - 182);
    assert!(!untagged.contains(&"2024-03-05T12:30:00Z".to_string()));
    assert!(untagged.contains(&"2024-03-05T11:30:00Z".to_string()));
}

#[test]
fn reasons_name_every_rule_that_keeps_a_backup() {
    let timeline = hourly_half_year();
    let now = t("2024-07-01T00:00:00Z");
    let p = policy("daily 7 weekly 4 monthly 3 within 2h tag monthly");
    assert_eq!(
        timeline.reasons_at(&p, now, "2024-06-30T23:30:00Z"),
        [
            "keep-within 2h",
            "keep-daily",
            "keep-weekly",
            "keep-monthly"
        ]
    );
    assert_eq!(
        timeline.reasons_at(&p, now, "2024-05-31T23:30:00Z"),
        ["keep-monthly"]
    );
    assert_eq!(
        timeline.reasons_at(&p, now, "2024-06-01T00:30:00Z"),
        ["keep-tag monthly"]
    );
    assert!(timeline
        .reasons_at(&p, now, "2024-06-01T01:30:00Z")
        .is_empty());
    // A rule with periods left does not keep the oldest backup (restic 0.14).
    let p = policy("monthly 10 last 2");
    assert!(timeline
        .reasons_at(&p, now, "2024-01-01T00:30:00Z")
        .is_empty());
}

#[test]
fn weeks_are_iso_weeks_across_the_new_year() {
    // Daily at noon from 2020-12-20 (a Sunday) to 2021-01-10 (a Sunday).
    let start = t("2020-12-20T12:00:00Z").0;
    let timeline = Timeline::new((0..22).map(|d| (Timestamp(start + d * 86_400), vec![])));
    let now = t("2021-02-01T00:00:00Z");
    assert_eq!(
        timeline.kept(&policy("weekly 3"), now),
        times(&["2020-12-27 12:00", "2021-01-03 12:00", "2021-01-10 12:00"])
    );
    // Four weeks have backups (51, 52, 53 of 2020 and 1 of 2021): the fifth count is unused.
    assert_eq!(
        timeline.kept(&policy("weekly 5"), now),
        times(&[
            "2020-12-20 12:00",
            "2020-12-27 12:00",
            "2021-01-03 12:00",
            "2021-01-10 12:00"
        ])
    );
    assert_eq!(
        timeline.kept(&policy("yearly 5"), now),
        times(&["2020-12-31 12:00", "2021-01-10 12:00"])
    );
    assert!(timeline
        .reasons_at(&policy("yearly 5"), now, "2020-12-20T12:00:00Z")
        .is_empty());
}

#[test]
fn periods_without_backups_do_not_count() {
    let timeline = Timeline::new(
        [
            "2024-05-01 10:00",
            "2024-05-01 18:00",
            "2024-05-02 09:00",
            "2024-05-05 07:00",
            "2024-05-05 20:00",
            "2024-05-09 12:00",
        ]
        .iter()
        .map(|s| (t(&format!("{}:00Z", s.replace(' ', "T"))), vec![])),
    );
    let now = t("2024-06-01T00:00:00Z");
    assert_eq!(
        timeline.kept(&policy("daily 3"), now),
        times(&["2024-05-02 09:00", "2024-05-05 20:00", "2024-05-09 12:00"])
    );
    // Ten days asked for, four have backups: one each, and nothing more for the counts left.
    assert_eq!(
        timeline.kept(&policy("daily 10"), now),
        times(&[
            "2024-05-01 18:00",
            "2024-05-02 09:00",
            "2024-05-05 20:00",
            "2024-05-09 12:00"
        ])
    );
    assert_eq!(
        timeline.kept(&policy("last 2"), now),
        times(&["2024-05-05 20:00", "2024-05-09 12:00"])
    );
}

#[test]
fn keep_within_does_month_arithmetic_like_the_calendar() {
    // 2024-03-31 minus one month is "2024-02-31", which is 2024-03-02.
    let start = t("2024-03-01T23:30:00Z").0;
    let timeline = Timeline::new((0..31).map(|d| (Timestamp(start + d * 86_400), vec![])));
    let kept = timeline.kept(&policy("within 1m"), t("2024-04-01T00:00:00Z"));
    assert_eq!(kept.first().unwrap(), "2024-03-03T23:30:00Z");
    assert_eq!(kept.len(), 29);
    assert_eq!(
        Within {
            years: 0,
            months: 1,
            days: 0,
            hours: 0
        }
        .before(t("2024-03-31T10:00:00Z")),
        t("2024-03-02T10:00:00Z")
    );
    assert_eq!(
        "2y5m7d3h"
            .parse::<Within>()
            .unwrap()
            .before(t("2026-11-05T09:00:00Z")),
        t("2024-05-29T06:00:00Z")
    );
}

#[test]
fn backups_in_the_future_do_not_move_the_window() {
    let start = t("2024-05-01T12:00:00Z").0;
    let timeline = Timeline::new((0..5).map(|d| (Timestamp(start + d * 86_400), vec![])));
    // Newest before `now` is 05-02 12:00: the window starts after 05-01 12:00, and the future
    // backups are kept too.
    assert_eq!(
        timeline.kept(&policy("within 1d"), t("2024-05-03T00:00:00Z")),
        times(&[
            "2024-05-02 12:00",
            "2024-05-03 12:00",
            "2024-05-04 12:00",
            "2024-05-05 12:00"
        ])
    );
    // All in the future: nothing to measure from, everything is within.
    assert_eq!(
        timeline
            .kept(&policy("within 1d"), t("2024-04-01T00:00:00Z"))
            .len(),
        5
    );
}

#[test]
fn an_empty_policy_is_recognised() {
    assert!(Policy::default().is_empty());
    assert!(policy("last 0 daily 0").is_empty());
    assert!(!policy("last unlimited").is_empty());
    assert!(!policy("tag x").is_empty());
    let p = policy("last 3 within 1y2d tag a,b");
    assert_eq!(
        p.to_string(),
        "--keep-last 3 --keep-within 1y2d --keep-tag a,b"
    );
}

#[test]
fn durations_counts_and_tag_lists_parse_strictly() {
    let w: Within = "2y5m7d3h".parse().unwrap();
    assert_eq!(
        (w.years, w.months, w.days, w.hours, w.to_string()),
        (2, 5, 7, 3, "2y5m7d3h".to_string())
    );
    assert_eq!("36h".parse::<Within>().unwrap().hours, 36);
    for bad in ["", "5", "d", "1w", "-1d", "1d2d", "1.5d", "99999999999d"] {
        assert!(bad.parse::<Within>().is_err(), "{bad:?} accepted");
    }
    assert_eq!("7".parse::<KeepCount>(), Ok(KeepCount::Count(7)));
    assert_eq!("unlimited".parse::<KeepCount>(), Ok(KeepCount::Unlimited));
    assert!("-1".parse::<KeepCount>().is_err());
    let tags: TagList = "a, b".parse().unwrap();
    assert_eq!(tags.0, ["a", "b"]);
    assert!(tags.matches(&["b".into(), "a".into(), "c".into()]));
    assert!(!tags.matches(&["a".into()]));
    let untagged: TagList = "".parse().unwrap();
    assert!(untagged.matches(&[]));
    assert!(!untagged.matches(&["a".into()]));
}

#[test]
fn iso_weeks_match_known_dates() {
    let week = |s: &str| iso_week(t(s).0.div_euclid(86_400));
    assert_eq!(week("2021-01-03T00:00:00Z"), (2020, 53));
    assert_eq!(week("2021-01-04T00:00:00Z"), (2021, 1));
    assert_eq!(week("2024-12-30T00:00:00Z"), (2025, 1));
    assert_eq!(week("2027-01-01T00:00:00Z"), (2026, 53));
    assert_eq!(week("2024-06-30T23:59:59Z"), (2024, 26));
    assert_eq!(week("1970-01-01T00:00:00Z"), (1970, 1));
}

#[test]
fn groups_are_decided_separately() {
    use crate::repo::{BackupKind, Manifest, Source};
    let backup = |database: &str, time: &str| {
        let mut manifest = Manifest::new(
            BackupKind::Complete,
            Source::new(EngineKind::Sqlite, "3", database),
        );
        manifest.time = t(time);
        Backup {
            id: Id::of_object(format!("{database}{time}").as_bytes()),
            manifest,
            content_withheld: false,
        }
    };
    let backups = vec![
        backup("sqlite:a.db", "2024-05-01T00:00:00Z"),
        backup("sqlite:a.db", "2024-05-02T00:00:00Z"),
        backup("sqlite:b.db", "2024-04-01T00:00:00Z"),
        backup("sqlite:b.db", "2024-04-02T00:00:00Z"),
    ];
    let now = t("2024-06-01T00:00:00Z");
    let groups = plan(&policy("last 1"), GroupBy::Source, &backups, now);
    assert_eq!(groups.len(), 2);
    let kept: Vec<Timestamp> = groups
        .iter()
        .flat_map(|g| &g.decisions)
        .filter(|d| d.keep())
        .map(|d| d.time)
        .collect();
    assert_eq!(kept, [t("2024-05-02T00:00:00Z"), t("2024-04-02T00:00:00Z")]);
    assert_eq!(groups[0].source.as_ref().unwrap().database, "sqlite:a.db");
    let one = plan(&policy("last 1"), GroupBy::None, &backups, now);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].decisions.iter().filter(|d| d.keep()).count(), 1);
    let tag_only = plan(&policy("tag nightly"), GroupBy::Source, &backups, now);
    assert!(tag_only.iter().all(GroupDecision::removes_all));
}
