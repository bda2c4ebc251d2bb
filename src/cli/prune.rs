//! `strata prune --repo REPO --keep-… [--dry-run] [--explain]`: apply a retention policy
//! (restic's rules, see [`crate::retention`]), remove the backups it does not keep, and collect
//! the data only they used.

use std::process::ExitCode;

use clap::Args;

use super::backup::human_bytes;
use crate::error::{Error, Result};
use crate::repo::{BackupId, PruneReport, Timestamp};
use crate::retention::{self, GroupBy, GroupDecision, KeepCount, Policy, TagList, Within};

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub repo: super::repo_args::RepoArgs,
    /// Keep the N newest backups (`unlimited`: all).
    #[arg(long, value_name = "N")]
    pub keep_last: Option<KeepCount>,
    /// Keep the newest backup of each of the last N hours that have one.
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<KeepCount>,
    /// Keep the newest backup of each of the last N days that have one.
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<KeepCount>,
    /// Keep the newest backup of each of the last N ISO weeks (Monday–Sunday) that have one.
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<KeepCount>,
    /// Keep the newest backup of each of the last N months that have one.
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<KeepCount>,
    /// Keep the newest backup of each of the last N years that have one.
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<KeepCount>,
    /// Keep every backup made within DURATION before the newest one (years, months, days,
    /// hours: e.g. 2y5m7d3h).
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<Within>,
    /// Keep every backup that has all of these tags (comma-separated; repeatable; '' keeps
    /// untagged backups).
    #[arg(long = "keep-tag", value_name = "TAGS")]
    pub keep_tags: Vec<TagList>,
    /// Apply the policy to each source (engine, database and backup host) separately, or to
    /// all backups together.
    #[arg(long, value_enum, default_value_t = GroupBy::Source)]
    pub group_by: GroupBy,
    /// Show what would be removed and freed, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// List every backup with the rules that keep it, or "no rule keeps it".
    #[arg(long)]
    pub explain: bool,
    /// Allow the policy to remove every backup of a group.
    #[arg(long)]
    pub allow_empty: bool,
    /// Print the decisions and the summary as JSON (fields in README, "Retention").
    #[arg(long)]
    pub json: bool,
}

impl PruneArgs {
    fn policy(&self) -> Policy {
        Policy {
            last: self.keep_last,
            hourly: self.keep_hourly,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
            within: self.keep_within,
            tags: self.keep_tags.clone(),
        }
    }
}

pub fn run(args: PruneArgs) -> Result<ExitCode> {
    let policy = args.policy();
    if policy.is_empty() {
        return Err(Error::Refused(
            "no retention policy: give at least one --keep-last, --keep-hourly, --keep-daily, \
             --keep-weekly, --keep-monthly, --keep-yearly, --keep-within or --keep-tag \
             (prune never removes everything by default)"
                .to_string(),
        ));
    }
    let repo = args.repo.open()?;
    let list = repo.list_backups()?;
    if let Some(damaged) = list.damaged.first() {
        return Err(Error::Refused(format!(
            "{damaged}; prune stops while a manifest is damaged (run `strata check`)"
        )));
    }
    let groups = retention::plan(&policy, args.group_by, &list.backups, Timestamp::now());
    if !args.allow_empty {
        if let Some(group) = groups.iter().find(|g| g.removes_all()) {
            return Err(Error::Refused(format!(
                "the policy would remove all {} backups of {}; keep at least one, or pass --allow-empty",
                group.decisions.len(),
                group_name(group)
            )));
        }
    }
    let forget: Vec<BackupId> = groups
        .iter()
        .flat_map(|g| &g.decisions)
        .filter(|d| !d.keep())
        .map(|d| d.id)
        .collect();
    let report = repo.prune(&forget, args.dry_run)?;
    if args.json {
        print_json(&policy, &groups, &report);
    } else {
        print_decisions(&groups, args.explain, args.dry_run);
        print_summary(&report);
    }
    Ok(ExitCode::from(super::exit::OK))
}

fn group_name(group: &GroupDecision) -> String {
    match &group.source {
        Some(source) => source.to_string(),
        None => "the repository".to_string(),
    }
}

fn print_decisions(groups: &[GroupDecision], explain: bool, dry_run: bool) {
    let (keep, remove) = match dry_run {
        true => ("would keep", "would remove"),
        false => ("keep", "remove"),
    };
    for group in groups {
        let kept = group.decisions.iter().filter(|d| d.keep()).count();
        println!(
            "{}: {keep} {kept} of {} backups",
            group_name(group),
            group.decisions.len()
        );
        for decision in &group.decisions {
            if !explain && decision.keep() {
                continue;
            }
            let why = match decision.keep() {
                true => decision
                    .reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                false => "no rule keeps it".to_string(),
            };
            let tags = match decision.tags.is_empty() {
                true => String::new(),
                false => format!(" [{}]", decision.tags.join(", ")),
            };
            println!(
                "  {:<12} {:<10} {}{tags}  {why}",
                if decision.keep() { keep } else { remove },
                decision.id.short(),
                decision.time
            );
        }
    }
}

fn print_summary(report: &PruneReport) {
    let would = if report.dry_run { "would " } else { "" };
    println!(
        "{would}remove {} backup(s), {} kept",
        report.backups_removed, report.backups_kept
    );
    println!(
        "{would}remove {} unused blob(s) ({}): {} pack(s) deleted, {} repacked ({} blob(s), {} of live data copied into {} new pack(s)); {} unused left in packs below the repack threshold",
        report.blobs_removed,
        human_bytes(report.blob_bytes_removed),
        report.packs_deleted,
        report.packs_repacked,
        report.blobs_repacked,
        human_bytes(report.bytes_repacked),
        report.packs_written,
        human_bytes(report.unused_bytes_left),
    );
    if report.packs_left_for_identity > 0 {
        println!(
            "{} pack(s) more than half unused were kept: repacking them reads their content, \
             which needs the repository's identity (run prune again with --identity)",
            report.packs_left_for_identity
        );
    }
    println!(
        "{would}free {}{}: {} → {}",
        if report.dry_run { "about " } else { "" },
        human_bytes(report.bytes_freed()),
        human_bytes(report.bytes_before),
        human_bytes(report.bytes_after),
    );
}

fn print_json(policy: &Policy, groups: &[GroupDecision], report: &PruneReport) {
    let mut document = serde_json::json!({
        "policy": policy.to_string(),
        "groups": groups,
        "bytes_freed": report.bytes_freed(),
    });
    if let (Some(object), Ok(serde_json::Value::Object(fields))) =
        (document.as_object_mut(), serde_json::to_value(report))
    {
        object.extend(fields);
    }
    println!("{}", serde_json::to_string_pretty(&document).expect("JSON"));
}
