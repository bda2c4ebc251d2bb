//! Encrypted repositories, the default of `strata init`: nothing can be read without the
//! passphrase, a wrong one is a clear error, no file of the repository shows a table name, a
//! column name or a value, any modified object fails authentication and is named, passphrases
//! are managed without re-encrypting anything, and backups still round-trip and deduplicate.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{
    contains, describe, files_under, flip, strata, strata_command, text, TestDb, TEST_PASSPHRASE,
};

// ---------------------------------------------------------------------------------------------
// Helpers

fn ok(args: &[&str]) -> Output {
    let out = strata(args);
    assert!(out.status.success(), "strata {args:?}: {}", describe(&out));
    out
}

fn json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)))
}

/// Runs strata with `STRATA_PASSWORD` set to `passphrase` (`None`: unset).
fn with_passphrase(passphrase: Option<&str>, args: &[&str]) -> Output {
    let mut command = strata_command(args);
    match passphrase {
        Some(p) => command.env("STRATA_PASSWORD", p),
        None => command.env_remove("STRATA_PASSWORD"),
    };
    command.output().unwrap()
}

/// Exit 2 with a one-line message containing every one of `needles`, and nothing on stdout.
fn assert_error(out: &Output, needles: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(out));
    assert!(out.stdout.is_empty(), "{}", describe(out));
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
}

/// Exit 1 (damage found) with a report on stdout that contains every one of `needles`.
fn assert_damage(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    let report = text(&out.stdout);
    for needle in needles {
        assert!(
            report.contains(needle),
            "{needle:?} not in: {}",
            describe(out)
        );
    }
}

/// A repository made by `strata init` (encrypted, the default) in a temporary directory.
struct Repo {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Repo {
    fn new(extra: &[&str]) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let mut args = vec!["init", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        ok(&args);
        Repo { _dir: dir, path }
    }

    fn s(&self) -> &str {
        self.path.to_str().unwrap()
    }

    fn backup(&self, database: &str) -> Value {
        json(&["backup", database, "--repo", self.s(), "--json"])
    }

    /// Every file of the repository, in name order.
    fn files(&self) -> Vec<PathBuf> {
        let mut files = files_under(&self.path);
        files.sort();
        files
    }

    /// The files under one directory of the repository (`packs`, `index`, `backups`, `keys`).
    fn files_in(&self, dir: &str) -> Vec<PathBuf> {
        files_under(&self.path.join(dir))
    }

    fn verify(&self, read_data: bool) -> Output {
        let mut args = vec!["verify", "--repo", self.s()];
        if read_data {
            args.push("--read-data");
        }
        strata(&args)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Flips a bit and renames the object after its new content, as a forger would, so that only
/// authentication can tell.
fn forge(path: &Path, at: i64) -> PathBuf {
    flip(path, at);
    rename_to_hash(path)
}

/// Renames an object after the BLAKE3 of its content.
fn rename_to_hash(path: &Path) -> PathBuf {
    let bytes = std::fs::read(path).unwrap();
    let forged = path.with_file_name(blake3::hash(&bytes).to_hex().as_str());
    std::fs::rename(path, &forged).unwrap();
    forged
}

/// A small PostgreSQL database with one table of `rows` rows.
fn small_db(hint: &str, rows: u32) -> TestDb {
    let db = TestDb::new(hint);
    db.execute(&format!(
        "CREATE TABLE public.ledger (id int PRIMARY KEY, memo text NOT NULL);
         INSERT INTO public.ledger SELECT g, 'entry ' || md5(g::text) FROM generate_series(1, {rows}) g;"
    ));
    db
}

fn user_tables(db: &TestDb) -> i64 {
    db.scalar_i64(
        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    )
}

// ---------------------------------------------------------------------------------------------
// What an encrypted repository shows

#[test]
fn a_new_repository_is_encrypted_and_its_config_only_says_how_to_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let init = json(&["init", path.to_str().unwrap(), "--json"]);
    assert_eq!(init["encrypted"], true, "{init}");
    let config: Value =
        serde_json::from_slice(&std::fs::read(path.join("config")).unwrap()).unwrap();
    let mut keys: Vec<&str> = config
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["encryption", "format", "id", "parameters"],
        "{config}"
    );
    assert_eq!(config["format"], 2);
    assert_eq!(config["encryption"], "xchacha20-poly1305");
    let key_files = files_under(&path.join("keys"));
    assert_eq!(key_files.len(), 1);
    assert_eq!(file_name(&key_files[0]), init["key"].as_str().unwrap());
    let key: Value = serde_json::from_slice(&std::fs::read(&key_files[0]).unwrap()).unwrap();
    assert_eq!(key["kdf"]["algorithm"], "argon2id", "{key}");
    // The test environment asks for trivial KDF parameters; the default is 64 MiB.
    assert_eq!(key["kdf"]["memory_kib"], 8, "{key}");
}

/// Every command that reads the repository fails with exit 2 and `needs` in its message when
/// `STRATA_PASSWORD` is `passphrase`, and restore writes nothing.
fn every_command_is_refused(hint: &str, passphrase: Option<&str>, needs: &[&str]) {
    let src = small_db(&format!("{hint}_src"), 100);
    let repo = Repo::new(&[]);
    let id = repo.backup(&src.url)["id"].as_str().unwrap().to_string();
    let dst = TestDb::new(&format!("{hint}_dst"));
    for args in [
        vec!["list", "--repo", repo.s(), "--json"],
        vec!["show", &id, "--repo", repo.s()],
        vec!["verify", "--repo", repo.s(), "--read-data"],
        vec!["restore", &id, "--repo", repo.s(), "--to", &dst.url],
        vec!["backup", &src.url, "--repo", repo.s()],
        vec!["key", "list", "--repo", repo.s()],
    ] {
        let out = with_passphrase(passphrase, &args);
        assert_error(&out, needs);
        assert_error(&out, &[repo.s()]);
    }
    assert_eq!(user_tables(&dst), 0);
}

#[test]
fn nothing_can_be_read_without_the_passphrase() {
    every_command_is_refused(
        "nopass",
        None,
        &[
            "encrypted and needs its passphrase",
            "STRATA_PASSWORD",
            "--password-file",
        ],
    );
    // The library refuses too, and says why.
    let repo = Repo::new(&[]);
    let store = strata::store::from_location(repo.s()).unwrap();
    let err = strata::repo::Repository::open(store).err().unwrap();
    assert!(err.to_string().contains("needs its passphrase"), "{err}");
}

#[test]
fn a_wrong_passphrase_is_a_clear_error_and_never_garbage() {
    every_command_is_refused(
        "wrongpass",
        Some("not the passphrase"),
        &["wrong passphrase"],
    );
}

#[test]
fn the_passphrase_can_come_from_a_file_or_a_command() {
    let repo = Repo::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passphrase");
    std::fs::write(&file, format!("{TEST_PASSPHRASE}\n")).unwrap();
    let list = |extra: &[&str], env: Option<&str>| {
        let mut args = vec!["list", "--repo", repo.s()];
        args.extend_from_slice(extra);
        with_passphrase(env, &args)
    };
    let from_file = list(&["--password-file", file.to_str().unwrap()], None);
    assert!(from_file.status.success(), "{}", describe(&from_file));
    let command = format!("printf '%s' '{TEST_PASSPHRASE}'");
    // A command wins over the environment.
    let from_command = list(&["--password-command", &command], Some("wrong"));
    assert!(from_command.status.success(), "{}", describe(&from_command));
    assert_error(
        &list(&["--password-command", "exit 3"], None),
        &["password command"],
    );
    let missing = dir.path().join("missing");
    assert_error(
        &list(&["--password-file", missing.to_str().unwrap()], None),
        &["passphrase file", "missing"],
    );
}

#[test]
fn no_table_column_or_value_appears_in_any_file_of_the_repository() {
    let pg = TestDb::new("grep_every_kind");
    pg.psql_file(&support::fixture("postgres/every_kind.sql"));
    pg.execute(
        "INSERT INTO public.department (id, name) VALUES (7, 'Quokka Logistics Division');
         INSERT INTO public.employee (id, department_id, email) VALUES (1, 7, 'zebra.fernsby@example.org');",
    );
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("shop.db");
    let conn = rusqlite::Connection::open(&sqlite).unwrap();
    conn.execute_batch(
        &std::fs::read_to_string(support::fixture("sqlite/every_kind.sql")).unwrap(),
    )
    .unwrap();
    conn.execute(
        "INSERT INTO customer (email, \"display name\") VALUES ('wombat-7731@example.net', 'Ottoline Pemberton-Vask')",
        [],
    )
    .unwrap();
    drop(conn);
    let sqlite_target = format!("sqlite:{}", sqlite.display());
    let names = [
        "department",
        "employee",
        "warehouse",
        "measurement",
        "booking",
        "price_with_tax",
        "opened_at",
        "manager_id",
        "Audit Log",
        "inventory",
        "customer",
        "display name",
        "placed_at",
        "price_cents",
        "weight_g",
    ];
    let values = [
        "Quokka Logistics Division",
        "zebra.fernsby@example.org",
        "wombat-7731@example.net",
        "Ottoline Pemberton-Vask",
    ];
    // The needles are there to be found: an unencrypted repository shows the names in clear.
    let plain = Repo::new(&["--insecure-no-encryption"]);
    plain.backup(&pg.url);
    plain.backup(&sqlite_target);
    let plain_bytes: Vec<u8> = plain
        .files()
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    for name in names {
        assert!(
            contains(&plain_bytes, name),
            "{name} is not in the backups at all"
        );
    }

    let repo = Repo::new(&[]);
    let pg_id = repo.backup(&pg.url)["id"].as_str().unwrap().to_string();
    repo.backup(&sqlite_target);
    let files = repo.files();
    assert!(files.len() >= 6, "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in names.iter().chain(&values) {
            for form in [
                needle.to_string(),
                needle.to_lowercase(),
                needle.to_uppercase(),
            ] {
                assert!(
                    !contains(&bytes, &form),
                    "{form:?} is readable in {}",
                    file.display()
                );
            }
        }
    }
    // ... and the values really were backed up: they come back.
    let dst = TestDb::new("grep_every_kind_dst");
    ok(&["restore", &pg_id, "--repo", repo.s(), "--to", &dst.url]);
    assert_eq!(
        dst.psql_text("SELECT name FROM public.department WHERE id = 7")
            .trim(),
        "Quokka Logistics Division"
    );
}

// ---------------------------------------------------------------------------------------------
// Backups work as in an unencrypted repository

#[test]
fn an_encrypted_backup_round_trips_verifies_and_deduplicates() {
    let src = small_db("roundtrip_src", 30_000);
    let repo = Repo::new(&[]);
    let first = repo.backup(&src.url);
    let id = first["id"].as_str().unwrap();
    let second = repo.backup(&src.url);
    let stored = |b: &Value| b["stored_bytes"].as_u64().unwrap();
    assert!(stored(&first) > 100_000, "{first}");
    assert_eq!(second["new_bytes"], 0, "{second}");
    assert!(stored(&second) * 100 < stored(&first), "{first} {second}");
    let verified = repo.verify(true);
    assert!(verified.status.success(), "{}", describe(&verified));
    let dst = TestDb::new("roundtrip_dst");
    ok(&["restore", id, "--repo", repo.s(), "--to", &dst.url]);
    let digest = "SELECT md5(string_agg(id || ':' || memo, ',' ORDER BY id)) FROM public.ledger";
    assert_eq!(src.psql_text(digest), dst.psql_text(digest));
}

#[test]
fn an_unencrypted_repository_needs_no_passphrase_and_keeps_format_1() {
    let src = small_db("plain_src", 100);
    let repo = Repo::new(&["--insecure-no-encryption"]);
    let config: Value =
        serde_json::from_slice(&std::fs::read(repo.path.join("config")).unwrap()).unwrap();
    assert_eq!(config["format"], 1);
    assert_eq!(config["encryption"], "none");
    let backup = with_passphrase(None, &["backup", &src.url, "--repo", repo.s(), "--json"]);
    assert!(backup.status.success(), "{}", describe(&backup));
    let list = with_passphrase(None, &["list", "--repo", repo.s()]);
    assert!(list.status.success(), "{}", describe(&list));
    assert_error(
        &strata(&["key", "list", "--repo", repo.s()]),
        &["not encrypted"],
    );
}

// ---------------------------------------------------------------------------------------------
// Damage and forgery

#[test]
fn a_flipped_byte_in_a_pack_fails_authentication_and_restore_refuses_before_writing() {
    let src = small_db("flip_pack_src", 2_000);
    let repo = Repo::new(&[]);
    let id = repo.backup(&src.url)["id"].as_str().unwrap().to_string();
    let pack = repo.files_in("packs").pop().unwrap();
    let original = std::fs::read(&pack).unwrap();
    // A blob's ciphertext, the sealed trailer, the trailer's length.
    for at in [100, -30, -2] {
        flip(&pack, at);
        let out = repo.verify(true);
        assert_damage(&out, &[&file_name(&pack)]);
        if at == 100 {
            assert_damage(&out, &["authentication failed"]);
        }
        let dst = TestDb::new("flip_pack_dst");
        let restore = strata(&["restore", &id, "--repo", repo.s(), "--to", &dst.url]);
        assert_eq!(restore.status.code(), Some(2), "{}", describe(&restore));
        assert_eq!(user_tables(&dst), 0, "restore wrote before refusing");
        std::fs::write(&pack, &original).unwrap();
    }
}

#[test]
fn a_damaged_or_forged_index_file_or_manifest_is_named() {
    let src = small_db("flip_meta_src", 100);
    let repo = Repo::new(&[]);
    let id = repo.backup(&src.url)["id"].as_str().unwrap().to_string();
    let index = repo.files_in("index").pop().unwrap();
    let manifest = repo.files_in("backups").pop().unwrap();
    assert_eq!(file_name(&manifest), id);

    let forged_index = forge(&index, 40);
    let index_name = format!("index/{}", file_name(&forged_index));
    assert_damage(&repo.verify(false), &[&index_name, "authentication failed"]);

    flip(&manifest, 50);
    assert_damage(&repo.verify(false), &[&id[..8]]);
    let forged_manifest = forge(&manifest, 60);
    let list = strata(&["list", "--repo", repo.s()]);
    assert!(
        text(&list.stderr).contains("authentication failed")
            && text(&list.stderr).contains(&file_name(&forged_manifest)),
        "{}",
        describe(&list)
    );
}

#[test]
fn modified_sealed_parameters_in_config_fail_authentication() {
    let repo = Repo::new(&[]);
    let path = repo.path.join("config");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut parameters: Vec<char> = config["parameters"].as_str().unwrap().chars().collect();
    parameters[40] = if parameters[40] == 'A' { 'B' } else { 'A' };
    config["parameters"] = parameters.into_iter().collect::<String>().into();
    std::fs::write(&path, config.to_string()).unwrap();
    assert_error(
        &strata(&["list", "--repo", repo.s()]),
        &["damaged repository config", "authentication failed"],
    );
}

#[test]
fn a_damaged_key_file_is_named() {
    let repo = Repo::new(&[]);
    let mut add = strata_command(&["key", "add", "--repo", repo.s()]);
    let added = add
        .env("STRATA_NEW_PASSWORD", "second passphrase")
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", describe(&added));
    let keys = repo.files_in("keys");
    assert_eq!(keys.len(), 2);
    let current = json(&["key", "list", "--repo", repo.s(), "--json"]);
    let other_id = current
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = repo.path.join("keys").join(&other_id);
    // The other key file is damaged: verify says which, the current passphrase still works.
    flip(&other, 30);
    assert_damage(&repo.verify(false), &[&format!("keys/{other_id}")]);
    let listed = json(&["key", "list", "--repo", repo.s(), "--json"]);
    assert!(listed.to_string().contains("damaged"), "{listed}");
    // With only a damaged key file left, opening names it.
    let out = with_passphrase(Some("second passphrase"), &["list", "--repo", repo.s()]);
    assert_error(&out, &["wrong passphrase", &format!("keys/{other_id}")]);
    // A key file edited and renamed after the edit no longer unlocks anything.
    let mine = keys.iter().find(|k| file_name(k) != other_id).unwrap();
    let edited =
        std::fs::read_to_string(mine)
            .unwrap()
            .replacen("\"hostname\": \"", "\"hostname\": \"x", 1);
    std::fs::write(mine, &edited).unwrap();
    rename_to_hash(mine);
    assert_error(
        &strata(&["list", "--repo", repo.s()]),
        &["wrong passphrase"],
    );
}

// ---------------------------------------------------------------------------------------------
// Key management

#[test]
fn passphrases_are_added_listed_changed_and_removed_without_touching_data() {
    let src = small_db("keys_src", 1_000);
    let repo = Repo::new(&[]);
    repo.backup(&src.url);
    let data_before: Vec<(PathBuf, Vec<u8>)> = ["packs", "index", "backups"]
        .iter()
        .flat_map(|d| repo.files_in(d))
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect();
    let run = |passphrase: &str, new: Option<&str>, args: &[&str]| {
        let mut command = strata_command(args);
        command.env("STRATA_PASSWORD", passphrase);
        if let Some(new) = new {
            command.env("STRATA_NEW_PASSWORD", new);
        }
        command.output().unwrap()
    };
    let added = run(
        TEST_PASSPHRASE,
        Some("second"),
        &["key", "add", "--repo", repo.s(), "--json"],
    );
    assert!(added.status.success(), "{}", describe(&added));
    let second_id = serde_json::from_slice::<Value>(&added.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let listed = run(
        "second",
        None,
        &["key", "list", "--repo", repo.s(), "--json"],
    );
    let keys: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let current: Vec<&Value> = keys.iter().filter(|k| k["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], second_id.as_str());
    for key in keys {
        assert!(
            key["created"].is_string()
                && key["hostname"].is_string()
                && key["username"].is_string(),
            "{key}"
        );
        assert_eq!(key["kdf"]["algorithm"], "argon2id");
    }
    let table = run("second", None, &["key", "list", "--repo", repo.s()]);
    assert!(
        text(&table.stdout).contains(&format!("* {}", &second_id[..8])),
        "{}",
        describe(&table)
    );

    // The key in use is not removed; passwd replaces it and the old passphrase stops working.
    assert_error(
        &run(
            "second",
            None,
            &["key", "remove", &second_id[..10], "--repo", repo.s()],
        ),
        &["key passwd"],
    );
    let changed = run(
        "second",
        Some("third"),
        &["key", "passwd", "--repo", repo.s(), "--json"],
    );
    assert!(changed.status.success(), "{}", describe(&changed));
    let changed: Value = serde_json::from_slice(&changed.stdout).unwrap();
    assert_eq!(changed["removed"], second_id.as_str());
    assert_error(
        &run("second", None, &["list", "--repo", repo.s()]),
        &["wrong passphrase"],
    );
    assert!(run("third", None, &["list", "--repo", repo.s()])
        .status
        .success());

    // The first passphrase removes the third's key; then it is the last key and stays.
    let third_id = changed["id"].as_str().unwrap();
    let removed = run(
        TEST_PASSPHRASE,
        None,
        &["key", "remove", third_id, "--repo", repo.s()],
    );
    assert!(removed.status.success(), "{}", describe(&removed));
    assert_error(
        &run("third", None, &["list", "--repo", repo.s()]),
        &["wrong passphrase"],
    );
    let first_id = file_name(&repo.files_in("keys")[0]);
    assert_error(
        &run(
            TEST_PASSPHRASE,
            None,
            &["key", "remove", &first_id, "--repo", repo.s()],
        ),
        &["last key"],
    );
    assert_error(
        &run(
            TEST_PASSPHRASE,
            None,
            &["key", "remove", "ffff", "--repo", repo.s()],
        ),
        &["no key ffff"],
    );

    // No data object was rewritten by any of this.
    for (file, bytes) in data_before {
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "{}", file.display());
    }
    let verified = repo.verify(true);
    assert!(verified.status.success(), "{}", describe(&verified));
}
