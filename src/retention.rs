//! Retention policies: which backups `strata prune` keeps, and why.
//!
//! The rules and their semantics are those of `restic forget` in restic 0.14 (Debian 12's
//! restic), so that users who know one know the other; `tests/prune_restic.rs` compares the kept
//! sets with that restic's own on a synthetic timeline:
//!
//! - Backups are first divided into groups (`--group-by`): by default one per *source* (engine,
//!   database and the host that ran the backup), so a policy never trades one database's backups
//!   for another's. The policy applies to each group on its own.
//! - In a group, backups are taken newest first. `--keep-last N` keeps the N newest.
//!   `--keep-hourly|daily|weekly|monthly|yearly N` keep, for the N most recent hours (days, ISO
//!   weeks, months, years) *that have a backup*, the newest backup of each; periods without a
//!   backup do not count. Periods are calendar periods in UTC (weeks run Monday to Sunday;
//!   restic uses the time zone each snapshot was taken in, the same periods when that is UTC).
//!   `unlimited` instead of N keeps one per period for all periods (restic 0.14 has no such
//!   word; a count above the number of backups does the same there).
//! - Later restic releases also keep a group's oldest backup when a rule has periods left;
//!   restic 0.14 does not, and neither does Strata.
//! - `--keep-within 2y5m7d3h` keeps every backup made after the newest backup's time minus that
//!   duration (calendar arithmetic: a month back from 31 March is 2 March, as in Go's `AddDate`).
//!   Backups dated in the future (relative to `now`) are ignored when finding the newest.
//! - `--keep-tag a,b` keeps every backup that has all the listed tags; `--keep-tag ''` keeps the
//!   untagged ones. The option repeats; any list that matches keeps the backup.
//! - A backup is kept when any rule keeps it; [`Decision::reasons`] names every rule that did.
//!
//! This module is pure: it reads manifests' times, tags and sources and decides; deleting is
//! [`crate::repo::prune`]'s business.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::repo::time::{civil_from_days, days_from_civil};
use crate::repo::{Backup, BackupId, Timestamp};
use crate::schema::EngineKind;

/// How many periods (or backups) a counted rule keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepCount {
    Count(u32),
    /// One per period, for every period.
    Unlimited,
}

impl FromStr for KeepCount {
    type Err = String;

    fn from_str(s: &str) -> Result<KeepCount, String> {
        if s.eq_ignore_ascii_case("unlimited") {
            return Ok(KeepCount::Unlimited);
        }
        s.parse::<u32>()
            .map(KeepCount::Count)
            .map_err(|_| format!("{s:?} is not a count: give a number or `unlimited`"))
    }
}

impl fmt::Display for KeepCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepCount::Count(n) => write!(f, "{n}"),
            KeepCount::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// A calendar duration for `--keep-within`: years, months, days and hours (`2y5m7d3h`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Within {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl Within {
    pub fn is_zero(&self) -> bool {
        *self == Within::default()
    }

    /// `time` minus this duration: years and months on the calendar (a day past the end of the
    /// month carries over), then days, then hours.
    pub fn before(&self, time: Timestamp) -> Timestamp {
        let days = time.0.div_euclid(86_400);
        let second_of_day = time.0.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let months = year * 12 + (month - 1) - i64::from(self.years) * 12 - i64::from(self.months);
        let days = days_from_civil(
            months.div_euclid(12),
            months.rem_euclid(12) + 1,
            day - i64::from(self.days),
        );
        Timestamp(days * 86_400 + second_of_day - i64::from(self.hours) * 3600)
    }
}

impl FromStr for Within {
    type Err = String;

    fn from_str(s: &str) -> Result<Within, String> {
        let bad = |why: &str| format!("{s:?} is not a duration ({why}); write e.g. 2y5m7d3h");
        let mut within = Within::default();
        let mut seen = String::new();
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad("empty"));
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad("expected a number"));
            }
            let number: u32 = rest[..digits]
                .parse()
                .map_err(|_| bad("number too large"))?;
            let Some(unit) = rest[digits..].chars().next() else {
                return Err(bad("a number without a unit"));
            };
            let slot = match unit {
                'y' => &mut within.years,
                'm' => &mut within.months,
                'd' => &mut within.days,
                'h' => &mut within.hours,
                _ => return Err(bad("units are y, m, d and h")),
            };
            if seen.contains(unit) {
                return Err(bad("a unit appears twice"));
            }
            seen.push(unit);
            *slot = number;
            rest = &rest[digits + 1..];
        }
        Ok(within)
    }
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0h");
        }
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

/// Tags a backup must all have to be kept by one `--keep-tag` (`a,b`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagList(pub Vec<String>);

impl TagList {
    /// restic's rule: every tag of the list is present; an empty tag matches an untagged backup.
    pub fn matches(&self, tags: &[String]) -> bool {
        for tag in &self.0 {
            if tag.is_empty() && tags.is_empty() {
                return true;
            }
            if !tags.contains(tag) {
                return false;
            }
        }
        true
    }
}

impl FromStr for TagList {
    type Err = String;

    fn from_str(s: &str) -> Result<TagList, String> {
        Ok(TagList(
            s.split(',').map(|t| t.trim().to_string()).collect(),
        ))
    }
}

impl fmt::Display for TagList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [only] if only.is_empty() => f.write_str("''"),
            tags => f.write_str(&tags.join(",")),
        }
    }
}

/// A retention policy: any rule that keeps a backup keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub last: Option<KeepCount>,
    pub hourly: Option<KeepCount>,
    pub daily: Option<KeepCount>,
    pub weekly: Option<KeepCount>,
    pub monthly: Option<KeepCount>,
    pub yearly: Option<KeepCount>,
    pub within: Option<Within>,
    pub tags: Vec<TagList>,
}

impl Policy {
    /// True when no rule is set (`--keep-last 0` and `--keep-within 0d` set nothing).
    pub fn is_empty(&self) -> bool {
        self.counted().iter().all(|(_, count)| count.is_none())
            && self.within.is_none_or(|w| w.is_zero())
            && self.tags.is_empty()
    }

    /// The counted rules with their counts; a count of 0 is no rule.
    fn counted(&self) -> [(Rule, Option<KeepCount>); 6] {
        let set = |count: Option<KeepCount>| count.filter(|c| *c != KeepCount::Count(0));
        [
            (Rule::Last, set(self.last)),
            (Rule::Hourly, set(self.hourly)),
            (Rule::Daily, set(self.daily)),
            (Rule::Weekly, set(self.weekly)),
            (Rule::Monthly, set(self.monthly)),
            (Rule::Yearly, set(self.yearly)),
        ]
    }
}

impl fmt::Display for Policy {
    /// The policy as flags, e.g. `--keep-daily 7 --keep-tag nightly`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (rule, count) in self.counted() {
            if let Some(count) = count {
                parts.push(format!("--{} {count}", rule.flag()));
            }
        }
        if let Some(within) = self.within.filter(|w| !w.is_zero()) {
            parts.push(format!("--keep-within {within}"));
        }
        for tags in &self.tags {
            parts.push(format!("--keep-tag {tags}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// A counted rule: one backup per period (or per backup, for `last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Rule {
    pub fn flag(&self) -> &'static str {
        match self {
            Rule::Last => "keep-last",
            Rule::Hourly => "keep-hourly",
            Rule::Daily => "keep-daily",
            Rule::Weekly => "keep-weekly",
            Rule::Monthly => "keep-monthly",
            Rule::Yearly => "keep-yearly",
        }
    }

    /// The period `time` falls in, as a number unique per period (`nr` for `last`, which makes
    /// every backup its own period).
    fn period(&self, time: Timestamp, nr: usize) -> i64 {
        let days = time.0.div_euclid(86_400);
        let hour = time.0.rem_euclid(86_400) / 3600;
        let (year, month, day) = civil_from_days(days);
        match self {
            Rule::Last => nr as i64,
            Rule::Hourly => ((year * 100 + month) * 100 + day) * 100 + hour,
            Rule::Daily => (year * 100 + month) * 100 + day,
            Rule::Weekly => {
                let (iso_year, week) = iso_week(days);
                iso_year * 100 + week
            }
            Rule::Monthly => year * 100 + month,
            Rule::Yearly => year,
        }
    }
}

/// ISO 8601 year and week of a day count since 1970-01-01: weeks start on Monday, and week 1 is
/// the week with the year's first Thursday.
pub fn iso_week(days: i64) -> (i64, i64) {
    // 1970-01-01 was a Thursday: weekday 0 = Monday.
    let weekday = (days + 3).rem_euclid(7);
    let thursday = days - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let ordinal = thursday - days_from_civil(year, 1, 1);
    (year, ordinal / 7 + 1)
}

/// Why a backup is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A counted rule: the backup is the newest of one of the rule's periods.
    Counted(Rule),
    Within(Within),
    Tag(TagList),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Counted(rule) => f.write_str(rule.flag()),
            Reason::Within(within) => write!(f, "keep-within {within}"),
            Reason::Tag(tags) => write!(f, "keep-tag {tags}"),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What the policy needs to know of a backup.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: BackupId,
    pub time: Timestamp,
    pub tags: &'a [String],
}

/// The verdict on one backup: kept when `reasons` is not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: BackupId,
    pub time: Timestamp,
    pub tags: Vec<String>,
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

impl Serialize for Decision {
    /// `{"id", "time", "tags", "keep", "reasons"}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Decision", 5)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("time", &self.time)?;
        s.serialize_field("tags", &self.tags)?;
        s.serialize_field("keep", &self.keep())?;
        s.serialize_field("reasons", &self.reasons)?;
        s.end()
    }
}

/// Applies `policy` to one group of backups; `now` decides which backups are in the future.
/// Decisions come newest first. An empty policy keeps nothing (callers refuse one).
pub fn apply(policy: &Policy, backups: &[Candidate<'_>], now: Timestamp) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = backups.iter().collect();
    sorted.sort_by(|a, b| b.time.cmp(&a.time).then(a.id.cmp(&b.id)));
    let newest = sorted.iter().map(|c| c.time).filter(|t| *t < now).max();
    let within = policy.within.filter(|w| !w.is_zero());
    // With every backup in the future there is no newest to measure from: all are within
    // (restic measures from the zero time then).
    let within_after = within.map(|w| newest.map(|t| w.before(t)));
    let mut counters: Vec<Counter> = policy
        .counted()
        .into_iter()
        .filter_map(|(rule, count)| {
            count.map(|count| Counter {
                rule,
                left: count,
                last_period: None,
            })
        })
        .collect();
    sorted
        .iter()
        .enumerate()
        .map(|(nr, backup)| {
            let mut reasons: Vec<Reason> = policy
                .tags
                .iter()
                .filter(|tags| tags.matches(backup.tags))
                .map(|tags| Reason::Tag(tags.clone()))
                .collect();
            if let (Some(within), Some(after)) = (within, within_after) {
                if after.is_none_or(|after| backup.time > after) {
                    reasons.push(Reason::Within(within));
                }
            }
            for counter in &mut counters {
                if let Some(reason) = counter.take(backup.time, nr) {
                    reasons.push(reason);
                }
            }
            Decision {
                id: backup.id,
                time: backup.time,
                tags: backup.tags.to_vec(),
                reasons,
            }
        })
        .collect()
}

/// A counted rule's state while walking a group newest first.
struct Counter {
    rule: Rule,
    left: KeepCount,
    last_period: Option<i64>,
}

impl Counter {
    /// Keeps the backup when it opens a new period and periods are left.
    fn take(&mut self, time: Timestamp, nr: usize) -> Option<Reason> {
        if self.left == KeepCount::Count(0) {
            return None;
        }
        let period = self.rule.period(time, nr);
        if self.last_period == Some(period) {
            return None;
        }
        self.last_period = Some(period);
        if let KeepCount::Count(n) = &mut self.left {
            *n -= 1;
        }
        Some(Reason::Counted(self.rule))
    }
}

/// How backups are grouped before the policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GroupBy {
    /// One group per source: engine, database and the host that ran the backup.
    #[default]
    Source,
    /// All backups in one group.
    None,
}

/// What identifies a source for grouping. The host is part of it because a file path or a
/// `localhost` URL names a different database on each machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceKey {
    pub engine: EngineKind,
    pub database: String,
    pub host: String,
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, backed up on {})",
            self.database, self.engine, self.host
        )
    }
}

/// One group's decisions (newest first); `source` is `None` with `--group-by none`.
#[derive(Debug, Clone, Serialize)]
pub struct GroupDecision {
    pub source: Option<SourceKey>,
    #[serde(rename = "backups")]
    pub decisions: Vec<Decision>,
}

impl GroupDecision {
    /// True when the policy would remove every backup of the group.
    pub fn removes_all(&self) -> bool {
        !self.decisions.is_empty() && self.decisions.iter().all(|d| !d.keep())
    }
}

/// Groups `backups` and applies `policy` to each group. Groups come in source order.
pub fn plan(
    policy: &Policy,
    group_by: GroupBy,
    backups: &[Backup],
    now: Timestamp,
) -> Vec<GroupDecision> {
    type Members<'a> = (Option<SourceKey>, Vec<Candidate<'a>>);
    let mut groups: BTreeMap<Option<(String, String, String)>, Members> = BTreeMap::new();
    for backup in backups {
        let m = &backup.manifest;
        let source = match group_by {
            GroupBy::Source => Some(SourceKey {
                engine: m.source.engine,
                database: m.source.database.clone(),
                host: m.source.host.clone(),
            }),
            GroupBy::None => None,
        };
        let order = source
            .as_ref()
            .map(|s| (s.engine.to_string(), s.database.clone(), s.host.clone()));
        let candidate = Candidate {
            id: backup.id,
            time: m.time,
            tags: &m.tags,
        };
        groups
            .entry(order)
            .or_insert_with(|| (source, Vec::new()))
            .1
            .push(candidate);
    }
    groups
        .into_values()
        .map(|(source, members)| GroupDecision {
            decisions: apply(policy, &members, now),
            source,
        })
        .collect()
}

#[cfg(test)]
mod tests;
