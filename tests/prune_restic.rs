//! Differential test of the retention rules: for one synthetic timeline of backups and a table
//! of policies, Strata keeps exactly the backups that `restic forget` keeps.
//!
//! A real restic repository holds one snapshot per backup of the timeline (`restic backup
//! --time … --host … --tag …` of a one-file directory, made with `TZ=UTC` so that restic's
//! calendar periods are UTC ones, as Strata's are). `restic forget --dry-run --json` gives the
//! kept set per group (`--group-by host`); Strata decides on the same times, tags and hosts
//! through `strata::retention::plan`, one source per host.
//!
//! Building the repository takes restic a good half second per snapshot, and every `forget`
//! another half second (restic derives its key each time), so the repository and restic's
//! answers are cached under `$STRATA_TEST_CACHE` (default `~/.cache/strata-test`), keyed by the
//! timeline, the policy and restic's version: a changed timeline or another restic builds anew.
//!
//! Backups made in the same second are in no defined order in either tool (restic loads
//! snapshots in parallel; Strata orders them by id), so tied backups carry the same tags and the
//! kept sets are compared as multisets of (time, tags).
//!
//! Without restic the test fails with what to run when `CI` is set, and is skipped (saying so)
//! otherwise.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::Value as Json;
use strata::repo::{Backup, BackupKind, Id, Manifest, Source, Timestamp};
use strata::retention::{self, GroupBy, Policy};
use strata::schema::EngineKind;

/// One backup of the timeline: when (UTC, restic's `--time` format), on which host, with tags.
struct Snap {
    time: &'static str,
    host: &'static str,
    tags: &'static [&'static str],
}

const fn snap(time: &'static str, host: &'static str, tags: &'static [&'static str]) -> Snap {
    Snap { time, host, tags }
}

/// The timeline. Host `alpha` spans years with gaps, year, month and ISO-week boundaries (2020
/// has an ISO week 53 that ends on Sunday 2021-01-03), a leap day, days with several backups,
/// hours with several backups, and ties in the same second (among them the newest). Host
/// `bravo` sits at the edges of `--keep-within` measured from 2024-03-31 12:00 (a month back is
/// 2024-03-02 12:00 on Go's calendar: 31 February carries over). Host `charlie` has a backup
/// dated in the future, which `--keep-within` ignores when finding the newest.
const TIMELINE: &[Snap] = &[
    snap("2019-06-15 12:00:00", "alpha", &["release"]),
    snap("2020-12-31 23:59:59", "alpha", &[]),
    snap("2021-01-01 00:00:00", "alpha", &["nightly"]),
    snap("2021-01-03 18:00:00", "alpha", &["weekly"]),
    snap("2021-01-04 00:00:00", "alpha", &["nightly"]),
    snap("2022-02-28 10:00:00", "alpha", &["release", "nightly"]),
    snap("2023-03-15 08:00:00", "alpha", &["release"]),
    snap("2023-12-31 23:00:00", "alpha", &["nightly"]),
    snap("2023-12-31 23:59:59", "alpha", &["nightly"]),
    snap("2024-01-01 00:00:00", "alpha", &["release"]),
    snap("2024-01-31 23:59:59", "alpha", &["nightly"]),
    snap("2024-02-01 00:00:00", "alpha", &["nightly"]),
    snap("2024-02-29 12:00:00", "alpha", &["weekly"]),
    snap("2024-03-01 00:00:01", "alpha", &["nightly"]),
    snap("2024-03-10 02:00:00", "alpha", &["nightly"]),
    snap("2024-03-10 14:00:00", "alpha", &[]),
    snap("2024-03-11 02:00:00", "alpha", &["nightly"]),
    snap("2024-03-13 02:00:00", "alpha", &["nightly"]),
    snap("2024-03-13 02:00:00", "alpha", &["nightly"]),
    snap("2024-03-16 02:00:00", "alpha", &["nightly", "weekly"]),
    snap("2024-03-17 23:59:59", "alpha", &["weekly"]),
    snap("2024-03-18 00:00:00", "alpha", &["nightly"]),
    snap("2024-03-19 02:00:00", "alpha", &["nightly"]),
    snap("2024-03-19 14:00:00", "alpha", &["release", "nightly"]),
    snap("2024-03-20 02:00:00", "alpha", &["nightly"]),
    snap("2024-03-21 09:00:00", "alpha", &[]),
    snap("2024-03-21 09:30:00", "alpha", &[]),
    snap("2024-03-21 10:00:00", "alpha", &["nightly"]),
    snap("2024-03-21 10:59:59", "alpha", &[]),
    snap("2024-03-21 11:00:00", "alpha", &[]),
    snap("2024-03-21 13:15:00", "alpha", &["nightly"]),
    snap("2024-03-21 13:15:00", "alpha", &["nightly"]),
    snap("2024-03-21 23:59:59", "alpha", &[]),
    snap("2024-03-22 00:00:00", "alpha", &[]),
    snap("2024-03-22 00:00:00", "alpha", &[]),
    snap("2024-03-22 05:00:00", "alpha", &["nightly"]),
    snap("2024-03-22 06:00:00", "alpha", &["nightly"]),
    snap("2024-03-22 06:00:00", "alpha", &["nightly"]),
    snap("2023-03-31 12:00:00", "bravo", &["release"]),
    snap("2023-03-31 12:00:01", "bravo", &[]),
    snap("2024-02-29 12:00:00", "bravo", &[]),
    snap("2024-03-02 11:59:59", "bravo", &[]),
    snap("2024-03-02 12:00:00", "bravo", &["nightly"]),
    snap("2024-03-02 12:00:01", "bravo", &[]),
    snap("2024-03-28 23:00:00", "bravo", &[]),
    snap("2024-03-30 12:00:00", "bravo", &["nightly"]),
    snap("2024-03-30 12:00:01", "bravo", &[]),
    snap("2024-03-31 09:00:00", "bravo", &[]),
    snap("2024-03-31 09:00:01", "bravo", &["nightly"]),
    snap("2024-03-31 12:00:00", "bravo", &["release"]),
    snap("2023-12-25 08:00:00", "charlie", &[]),
    snap("2024-02-01 08:00:00", "charlie", &["release"]),
    snap("2024-02-29 08:00:00", "charlie", &[]),
    snap("2024-03-01 08:00:00", "charlie", &["nightly"]),
    snap("2099-01-01 00:00:00", "charlie", &[]),
];

/// The policies, as `restic forget` options. `unlimited` is Strata's word for "one per period,
/// for every period"; restic 0.14 has no such word, and a count above the number of backups
/// means the same there.
const POLICIES: &[&[&str]] = &[
    &["--keep-last", "1"],
    &["--keep-last", "3"],
    &["--keep-last", "100"],
    &["--keep-hourly", "4"],
    &["--keep-hourly", "30"],
    &["--keep-daily", "1"],
    &["--keep-daily", "7"],
    &["--keep-daily", "40"],
    &["--keep-daily", "unlimited"],
    &["--keep-weekly", "3"],
    &["--keep-weekly", "12"],
    &["--keep-monthly", "2"],
    &["--keep-monthly", "6"],
    &["--keep-monthly", "24"],
    &["--keep-yearly", "3"],
    &["--keep-yearly", "10"],
    &["--keep-within", "3h"],
    &["--keep-within", "1d"],
    &["--keep-within", "2d12h"],
    &["--keep-within", "1m"],
    &["--keep-within", "1y"],
    &["--keep-within", "1y2m3d4h"],
    &["--keep-tag", "release"],
    &["--keep-tag", "release,nightly"],
    &["--keep-tag", ""],
    &["--keep-tag", "release", "--keep-tag", "weekly"],
    &[
        "--keep-last",
        "2",
        "--keep-daily",
        "3",
        "--keep-weekly",
        "2",
        "--keep-monthly",
        "2",
        "--keep-yearly",
        "2",
    ],
    &[
        "--keep-hourly",
        "2",
        "--keep-daily",
        "2",
        "--keep-tag",
        "release",
    ],
    &["--keep-daily", "5", "--keep-within", "2d"],
    &[
        "--keep-weekly",
        "4",
        "--keep-monthly",
        "12",
        "--keep-tag",
        "nightly",
    ],
    &[
        "--keep-last",
        "1",
        "--keep-within",
        "1m",
        "--keep-yearly",
        "5",
        "--keep-tag",
        "",
    ],
    &["--keep-monthly", "unlimited", "--keep-yearly", "unlimited"],
];

/// What the comparison looks at: host, then the kept (time, tags), sorted.
type KeptSet = BTreeMap<String, Vec<(String, Vec<String>)>>;

#[test]
fn strata_keeps_exactly_what_restic_forget_keeps() {
    let Some(restic) = Restic::find() else {
        return;
    };
    let repo = restic.timeline_repository();
    let backups = strata_backups();
    let now = Timestamp::now();
    let mut differences = Vec::new();
    let restic_answers = two_at_a_time(POLICIES, |options| restic.kept(&repo, options));
    for (options, restic_kept) in POLICIES.iter().zip(restic_answers) {
        let strata_kept = strata_kept(&backups, &policy(options), now);
        if restic_kept != strata_kept {
            differences.push(format!(
                "policy {}:\n{}",
                options.join(" "),
                difference(&restic_kept, &strata_kept)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} policies keep other backups than `restic forget` ({}):\n{}",
        differences.len(),
        POLICIES.len(),
        restic.version,
        differences.join("\n")
    );
}

/// `work` on every item, two at a time (each restic command spends most of its half second
/// deriving its key, on one core), results in the items' order.
fn two_at_a_time<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(index) else {
                    break;
                };
                let result = work(item);
                results.lock().unwrap()[index] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item done"))
        .collect()
}

/// Per host, the backups only restic keeps and those only Strata keeps.
fn difference(restic: &KeptSet, strata: &KeptSet) -> String {
    let mut hosts: Vec<&String> = restic.keys().chain(strata.keys()).collect();
    hosts.sort();
    hosts.dedup();
    let mut out = String::new();
    for host in hosts {
        let (r, s) = (
            restic.get(host).cloned().unwrap_or_default(),
            strata.get(host).cloned().unwrap_or_default(),
        );
        let only = |a: &[(String, Vec<String>)], b: &[(String, Vec<String>)]| {
            let mut rest = b.to_vec();
            a.iter()
                .filter(|x| match rest.iter().position(|y| y == *x) {
                    Some(i) => {
                        rest.remove(i);
                        false
                    }
                    None => true,
                })
                .cloned()
                .collect::<Vec<_>>()
        };
        let (only_restic, only_strata) = (only(&r, &s), only(&s, &r));
        if !only_restic.is_empty() || !only_strata.is_empty() {
            out += &format!(
                "  {host}: only restic keeps {only_restic:?}; only Strata keeps {only_strata:?}\n"
            );
        }
    }
    out
}

/// The time as Strata writes it (RFC 3339, UTC).
fn rfc3339(time: &str) -> String {
    format!("{}Z", time.replace(' ', "T"))
}

/// The timeline as Strata backups: one source per host, ids unique per backup.
fn strata_backups() -> Vec<Backup> {
    TIMELINE
        .iter()
        .enumerate()
        .map(|(nr, snap)| {
            let mut source = Source::new(EngineKind::Sqlite, "3", "/srv/app.db");
            source.host = snap.host.to_string();
            let mut manifest = Manifest::new(BackupKind::Complete, source);
            manifest.time = rfc3339(snap.time).parse().unwrap();
            manifest.tags = snap.tags.iter().map(|t| t.to_string()).collect();
            Backup {
                id: Id::of_object(format!("backup {nr}").as_bytes()),
                manifest,
                content_withheld: false,
            }
        })
        .collect()
}

/// The policy the same options give `strata prune`.
fn policy(options: &[&str]) -> Policy {
    let mut policy = Policy::default();
    for pair in options.chunks(2) {
        let [flag, value] = pair else {
            panic!("options come in pairs: {options:?}")
        };
        match *flag {
            "--keep-last" => policy.last = Some(value.parse().unwrap()),
            "--keep-hourly" => policy.hourly = Some(value.parse().unwrap()),
            "--keep-daily" => policy.daily = Some(value.parse().unwrap()),
            "--keep-weekly" => policy.weekly = Some(value.parse().unwrap()),
            "--keep-monthly" => policy.monthly = Some(value.parse().unwrap()),
            "--keep-yearly" => policy.yearly = Some(value.parse().unwrap()),
            "--keep-within" => policy.within = Some(value.parse().unwrap()),
            "--keep-tag" => policy.tags.push(value.parse().unwrap()),
            other => panic!("unknown option {other}"),
        }
    }
    policy
}

fn strata_kept(backups: &[Backup], policy: &Policy, now: Timestamp) -> KeptSet {
    let mut kept = KeptSet::new();
    for group in retention::plan(policy, GroupBy::Source, backups, now) {
        let host = group.source.expect("grouped by source").host;
        let mut set: Vec<(String, Vec<String>)> = group
            .decisions
            .iter()
            .filter(|d| d.keep())
            .map(|d| (d.time.to_string(), sorted(d.tags.clone())))
            .collect();
        set.sort();
        kept.insert(host, set);
    }
    kept
}

fn sorted(mut tags: Vec<String>) -> Vec<String> {
    tags.sort();
    tags
}

/// The restic binary, its version, and where its repository and answers are cached.
struct Restic {
    version: String,
    cache: PathBuf,
}

impl Restic {
    /// restic, or `None` (the test is skipped, saying why) when it is missing outside CI.
    fn find() -> Option<Restic> {
        let version = Command::new("restic")
            .arg("version")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
        let Some(version) = version else {
            let what = "restic is not installed: run `scripts/setup-test-env.sh restic` \
                        (Debian: apt-get install restic)";
            if std::env::var_os("CI").is_some() {
                panic!("{what}");
            }
            eprintln!("SKIPPED strata_keeps_exactly_what_restic_forget_keeps: {what}");
            return None;
        };
        let key = blake3::hash(format!("{version}\n{}", timeline_text()).as_bytes());
        let cache = support::test_cache().join(format!("restic-retention-{}", &key.to_hex()[..16]));
        Some(Restic { version, cache })
    }

    fn command(&self, repo: &Path) -> Command {
        let mut command = Command::new("restic");
        command
            .arg("--no-cache")
            .arg("--quiet")
            .arg("--repo")
            .arg(repo)
            .env("RESTIC_PASSWORD", "strata-test")
            .env("TZ", "UTC");
        command
    }

    fn run(&self, command: &mut Command) -> Vec<u8> {
        let out = command.output().expect("restic runs");
        assert!(
            out.status.success(),
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The restic repository of [`TIMELINE`], built on first use. It is built aside and renamed
    /// into place, so an interrupted build is never taken for a finished one.
    fn timeline_repository(&self) -> PathBuf {
        let repo = self.cache.join("repo");
        if repo.join("config").exists() {
            return repo;
        }
        let building = self
            .cache
            .with_extension(format!("building-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&building);
        let data = building.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("file"), "one small file\n").unwrap();
        let new_repo = building.join("repo");
        self.run(self.command(&new_repo).arg("init"));
        // Backups take a shared lock: several can run at once.
        two_at_a_time(TIMELINE, |snap| {
            let mut backup = self.command(&new_repo);
            backup.args(["backup", "--time", snap.time, "--host", snap.host]);
            for tag in snap.tags {
                backup.args(["--tag", tag]);
            }
            self.run(backup.arg(&data));
        });
        std::fs::create_dir_all(&self.cache).unwrap();
        match std::fs::rename(&new_repo, &repo) {
            Ok(()) => {}
            // Another test process finished first: its repository is as good.
            Err(_) if repo.join("config").exists() => {}
            Err(e) => panic!("cannot move {} into place: {e}", new_repo.display()),
        }
        let _ = std::fs::remove_dir_all(&building);
        repo
    }

    /// `restic forget --dry-run --json --group-by host OPTIONS`, cached per policy.
    fn kept(&self, repo: &Path, options: &[&str]) -> KeptSet {
        let options: Vec<&str> = options
            .iter()
            .map(|o| if *o == "unlimited" { "1000000" } else { o })
            .collect();
        let key = blake3::hash(options.join("\0").as_bytes());
        let answer = self
            .cache
            .join(format!("forget-{}.json", &key.to_hex()[..16]));
        let json = match std::fs::read(&answer) {
            Ok(json) => json,
            Err(_) => {
                let json = self.run(
                    self.command(repo)
                        .args(["--no-lock", "forget", "--dry-run", "--json"])
                        .args(["--group-by", "host"])
                        .args(&options),
                );
                let partial = answer.with_extension(format!("partial-{}", std::process::id()));
                std::fs::write(&partial, &json).unwrap();
                std::fs::rename(&partial, &answer).unwrap();
                json
            }
        };
        let groups: Json = serde_json::from_slice(&json).unwrap_or_else(|e| {
            panic!(
                "restic forget --json: {e}: {}",
                String::from_utf8_lossy(&json)
            )
        });
        let mut kept = KeptSet::new();
        for group in groups.as_array().expect("a list of groups") {
            let host = group["host"].as_str().expect("grouped by host").to_string();
            let snapshots = |field: &str| -> Vec<(String, Vec<String>)> {
                group[field]
                    .as_array()
                    .map(|list| list.iter().map(time_and_tags).collect())
                    .unwrap_or_default()
            };
            let mut set = snapshots("keep");
            set.sort();
            let seen = set.len() + snapshots("remove").len();
            let in_timeline = TIMELINE.iter().filter(|s| s.host == host).count();
            assert_eq!(seen, in_timeline, "restic saw another timeline for {host}");
            kept.insert(host, set);
        }
        kept
    }
}

/// A restic snapshot's time (normalized to Strata's RFC 3339 form) and sorted tags.
fn time_and_tags(snapshot: &Json) -> (String, Vec<String>) {
    let time: Timestamp = snapshot["time"].as_str().unwrap().parse().unwrap();
    let tags = snapshot["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    (time.to_string(), sorted(tags))
}

/// The timeline as text, for the cache key.
fn timeline_text() -> String {
    TIMELINE
        .iter()
        .map(|s| format!("{} {} {}\n", s.time, s.host, s.tags.join(",")))
        .collect()
}
