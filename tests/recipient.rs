//! Public-key repositories (`strata init --recipient`): a backup host that holds only the
//! passphrase writes, lists, verifies and prunes backups but cannot read them; the holder of the
//! age identity restores them byte for byte; a wrong identity is named; no file shows a table,
//! column or value; damage is detected.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::backup_suite::{assert_clear_error, json, ok};
use support::{contains, describe, files_under, flip, strata, strata_command, text, TestDb};

/// An age key pair made by `strata key generate-identity`.
struct KeyPair {
    identity: PathBuf,
    recipient: String,
}

/// A public-key repository in a temporary directory, with the identity of its recipient.
struct Repo {
    dir: tempfile::TempDir,
    path: PathBuf,
    owner: KeyPair,
}

fn generate(dir: &Path, name: &str) -> KeyPair {
    let identity = dir.join(name);
    let out = ok(&[
        "key",
        "generate-identity",
        "--output",
        identity.to_str().unwrap(),
    ]);
    let recipient = text(&out.stdout).trim().to_string();
    assert!(recipient.starts_with("age1"), "{}", describe(&out));
    KeyPair {
        identity,
        recipient,
    }
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let owner = generate(dir.path(), "owner.key");
        let path = dir.path().join("repo");
        ok(&[
            "init",
            path.to_str().unwrap(),
            "--recipient",
            &owner.recipient,
        ]);
        Repo { dir, path, owner }
    }

    fn s(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// A backup made the way a backup host makes it: passphrase only.
    fn backup(&self, database: &str) -> String {
        let summary = json(&["backup", database, "--repo", self.s(), "--json"]);
        summary["id"].as_str().unwrap().to_string()
    }

    /// Runs strata with `identity` in `STRATA_IDENTITY` (`None`: as the backup host).
    fn run(&self, identity: Option<&Path>, args: &[&str]) -> Output {
        let mut args = args.to_vec();
        args.extend(["--repo", self.s()]);
        let mut command = strata_command(&args);
        if let Some(identity) = identity {
            command.env("STRATA_IDENTITY", identity);
        }
        command.output().unwrap()
    }

    fn as_owner(&self, args: &[&str]) -> Output {
        let out = self.run(Some(&self.owner.identity), args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        out
    }
}

/// A PostgreSQL database with one table whose names and values are easy to grep for.
fn ledger_db(hint: &str, rows: u32) -> TestDb {
    let db = TestDb::new(hint);
    db.execute(&format!(
        "CREATE TABLE public.quokka_ledger (id int PRIMARY KEY, wombat_memo text NOT NULL);
         INSERT INTO public.quokka_ledger
           SELECT g, 'Ottoline Pemberton-Vask ' || md5(g::text) FROM generate_series(1, {rows}) g;"
    ));
    db
}

const DIGEST: &str =
    "SELECT md5(string_agg(id || ':' || wombat_memo, ',' ORDER BY id)) FROM public.quokka_ledger";

/// Exit 2, one clear line that contains every one of `needles`.
fn assert_refused(out: &Output, what: &str, needles: &[&str]) {
    assert_clear_error(out, what);
    let err = text(&out.stderr);
    for needle in needles {
        assert!(err.contains(needle), "{what}: {needle:?} not in: {err}");
    }
}

#[test]
fn the_backup_host_writes_lists_and_verifies_but_only_the_identity_restores() {
    let src = ledger_db("recipient_src", 20_000);
    let repo = Repo::new();
    let config: Value =
        serde_json::from_slice(&std::fs::read(repo.path.join("config")).unwrap()).unwrap();
    assert_eq!(config["format"], 3, "{config}");

    let id = repo.backup(&src.url);
    let again = json(&["backup", &src.url, "--repo", repo.s(), "--json"]);
    assert_eq!(again["new_bytes"], 0, "the writer deduplicates: {again}");

    // The backup host lists and verifies what it wrote, without the identity.
    let list = json(&["list", "--repo", repo.s(), "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[0]["kind"], "complete", "{list}");
    assert!(list[0]["tables"].is_null(), "{list}");
    assert!(list[0]["bytes"].as_u64().unwrap() > 100_000, "{list}");
    for args in [vec!["verify"], vec!["check"], vec!["key", "list"]] {
        let out = repo.run(None, &args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
    }

    // Reading content needs the identity.
    let dst = TestDb::new("recipient_dst");
    for args in [
        vec!["restore", &id, "--to", &dst.url],
        vec!["show", &id],
        vec!["verify", "--read-data"],
        vec!["check", "--read-data"],
    ] {
        assert_refused(
            &repo.run(None, &args),
            &args.join(" "),
            &["--identity", "STRATA_IDENTITY"],
        );
    }
    assert_eq!(
        dst.scalar_i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0
    );

    repo.as_owner(&["verify", "--read-data"]);
    repo.as_owner(&["restore", &id, "--to", &dst.url]);
    assert_eq!(src.psql_text(DIGEST), dst.psql_text(DIGEST));
    let shown = repo.as_owner(&["show", &id]);
    assert!(
        text(&shown.stdout).contains("quokka_ledger"),
        "{}",
        describe(&shown)
    );
    // The flag works as the variable does.
    let flag = repo.owner.identity.to_str().unwrap();
    let listed = repo.run(None, &["list", "--json", "--identity", flag]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["tables"], 1, "{listed}");
}

#[test]
fn a_wrong_or_unreadable_identity_is_a_clear_error() {
    let src = ledger_db("recipient_wrong_src", 100);
    let repo = Repo::new();
    let id = repo.backup(&src.url);
    let stranger = generate(repo.dir.path(), "stranger.key");
    let out = repo.run(Some(&stranger.identity), &["show", &id]);
    assert_refused(
        &out,
        "another identity",
        &["wrong identity", &repo.owner.recipient, &stranger.recipient],
    );
    let junk = repo.dir.path().join("junk.key");
    std::fs::write(&junk, "not a key\n").unwrap();
    let out = repo.run(Some(&junk), &["show", &id]);
    assert_refused(
        &out,
        "junk identity",
        &["identity file", "AGE-SECRET-KEY-1"],
    );
    // generate-identity never overwrites a key.
    let again = strata(&[
        "key",
        "generate-identity",
        "--output",
        repo.owner.identity.to_str().unwrap(),
    ]);
    assert_refused(&again, "overwrite", &["owner.key"]);
}

#[test]
fn prune_on_the_backup_host_keeps_what_the_remaining_backups_need_and_repacks_only_with_the_identity(
) {
    let src = ledger_db("recipient_prune_src", 30_000);
    let repo = Repo::new();
    repo.backup(&src.url);
    // Two thirds of the chunks change: the first backup's pack becomes mostly garbage.
    src.execute(
        "UPDATE public.quokka_ledger SET wombat_memo = 'late ' || md5(id::text) WHERE id > 10000",
    );
    let kept = json(&[
        "backup",
        &src.url,
        "--repo",
        repo.s(),
        "--tag",
        "newest",
        "--json",
    ]);
    let kept = kept["id"].as_str().unwrap();
    let prune = ["prune", "--keep-tag", "newest", "--json"];
    let out = repo.run(None, &prune);
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["backups_removed"], 1, "{report}");
    assert!(report["blobs_removed"].as_u64().unwrap() == 0, "{report}");
    assert_eq!(
        report["packs_repacked"], 0,
        "the writer cannot read blobs: {report}"
    );
    assert!(
        report["unused_bytes_left"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert_eq!(report["packs_left_for_identity"], 1, "{report}");
    // Without --json, the summary says why that pack was kept.
    let out = repo.run(None, &["prune", "--keep-tag", "newest", "--dry-run"]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("needs the repository's identity"),
        "{summary}"
    );
    let list = json(&["list", "--repo", repo.s(), "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    // With the identity, the same prune repacks the pack it had to keep.
    let report: Value = serde_json::from_slice(&repo.as_owner(&prune).stdout).unwrap();
    assert_eq!(report["packs_repacked"], 1, "{report}");
    assert_eq!(report["unused_bytes_left"], 0, "{report}");
    assert_eq!(report["packs_left_for_identity"], 0, "{report}");
    repo.as_owner(&["verify", "--read-data"]);
    let dst = TestDb::new("recipient_prune_dst");
    repo.as_owner(&["restore", kept, "--to", &dst.url]);
    assert_eq!(src.psql_text(DIGEST), dst.psql_text(DIGEST));
}

#[test]
fn no_table_column_or_value_appears_in_any_file_and_damage_is_detected() {
    let src = ledger_db("recipient_grep_src", 3_000);
    let repo = Repo::new();
    let id = repo.backup(&src.url);
    let mut files = files_under(&repo.path);
    files.sort();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with(repo.path.join("datakeys"))),
        "{files:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in ["quokka_ledger", "wombat_memo", "Ottoline", "Pemberton-Vask"] {
            for form in [needle.to_string(), needle.to_uppercase()] {
                assert!(
                    !contains(&bytes, &form),
                    "{form:?} is readable in {}",
                    file.display()
                );
            }
        }
    }

    // A flipped byte in a blob fails authentication for the owner; the writer's own check of
    // the pack's structure still passes (it cannot read blobs).
    let pack = files_under(&repo.path.join("packs")).pop().unwrap();
    flip(&pack, 100);
    let out = repo.run(Some(&repo.owner.identity), &["verify", "--read-data"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stdout).contains("authentication failed"),
        "{}",
        describe(&out)
    );
    let dst = TestDb::new("recipient_grep_dst");
    let out = repo.run(
        Some(&repo.owner.identity),
        &["restore", &id, "--to", &dst.url],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    flip(&pack, 100);

    // A damaged data key is named.
    let data_key = files_under(&repo.path.join("datakeys")).pop().unwrap();
    flip(&data_key, -3);
    let out = repo.run(Some(&repo.owner.identity), &["show", &id]);
    assert_refused(&out, "damaged data key", &["datakeys/"]);
    flip(&data_key, -3);
    repo.as_owner(&["verify", "--read-data"]);
}

#[test]
fn any_recipient_of_a_recipients_file_restores_a_sqlite_backup() {
    let dir = tempfile::tempdir().unwrap();
    let alice = generate(dir.path(), "alice.key");
    let bob = generate(dir.path(), "bob.key");
    let list = dir.path().join("recipients.txt");
    std::fs::write(
        &list,
        format!("# owners\n{}\n\n{}\n", alice.recipient, bob.recipient),
    )
    .unwrap();
    let path = dir.path().join("repo");
    let repo = path.to_str().unwrap();
    let init = json(&[
        "init",
        repo,
        "--recipients-file",
        list.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(init["recipients"].as_array().unwrap().len(), 2, "{init}");

    let db = dir.path().join("shop.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(&support::sqlite::every_kind()).unwrap();
    conn.execute_batch(support::sqlite::SEED).unwrap();
    drop(conn);
    let summary = json(&[
        "backup",
        &format!("sqlite:{}", db.display()),
        "--repo",
        repo,
        "--json",
    ]);
    let id = summary["id"].as_str().unwrap();
    for (n, owner) in [&alice, &bob].into_iter().enumerate() {
        let restored = dir.path().join(format!("restored-{n}.db"));
        let out = strata_command(&[
            "restore",
            id,
            "--repo",
            repo,
            "--to",
            &format!("sqlite:{}", restored.display()),
            "--identity",
            owner.identity.to_str().unwrap(),
        ])
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(support::sqlite::rows(&restored), support::sqlite::rows(&db));
    }
}
