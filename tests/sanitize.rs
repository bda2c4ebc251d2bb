//! Sanitized copies against real PostgreSQL databases and SQLite files: the acceptance criteria
//! of the sanitize issue (issue 9).
//!
//! The project's own fixture (`fixtures/postgres/sanitize_people.sql`) always runs; Pagila runs
//! when the shared fixtures are present. Every check reads the target with SQL: leaks are looked
//! for in every text column of every table, foreign keys and unique keys are re-checked row by
//! row, contents are compared with hashes computed by the server.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::Value;
use support::TestDb;

const KEY: &str = "test key: 6f1d2c0e9b8a7f6e5d4c3b2a19081726";
const OTHER_KEY: &str = "another test key: 0a1b2c3d4e5f60718293a4b5c6d7e8f9";

// ---------------------------------------------------------------- running strata

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs strata in the test environment (repository passphrase included) with
/// `STRATA_SANITIZE_KEY` set to `key` (or unset).
fn strata_with_key(key: Option<&str>, args: &[&str]) -> Output {
    let mut command = support::test_environment_command(args);
    match key {
        Some(key) => command.env("STRATA_SANITIZE_KEY", key),
        None => command.env_remove("STRATA_SANITIZE_KEY"),
    };
    command.output().expect("could not run strata")
}

fn ok(key: Option<&str>, args: &[&str]) -> Output {
    let out = strata_with_key(key, args);
    assert!(
        out.status.success(),
        "strata {args:?} failed: {}",
        describe(&out)
    );
    out
}

fn json(key: Option<&str>, args: &[&str]) -> Value {
    let out = ok(key, args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "strata {args:?} did not print JSON ({e}): {}",
            describe(&out)
        )
    })
}

/// Exit 2 and one line `strata: error: …` on stderr.
fn assert_clear_error(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{what}: {}", describe(out));
    assert!(!err.contains("panicked"), "{what}: {}", describe(out));
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: {}",
        describe(out)
    );
    assert!(
        err.starts_with("strata: error:"),
        "{what}: {}",
        describe(out)
    );
    err
}

/// A temporary directory with a repository and files (rules, keys).
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn repo(&self) -> String {
        let path = self.dir.path().join("repo");
        if !path.exists() {
            ok(None, &["init", s(&path)]);
        }
        s(&path).to_string()
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Backs `db` up into the workspace's repository; returns the backup id.
fn backup(db: &TestDb, work: &Workspace) -> String {
    let summary = json(None, &["backup", &db.url, "--repo", &work.repo(), "--json"]);
    summary["id"].as_str().unwrap().to_string()
}

fn restore_sanitized(id: &str, work: &Workspace, rules: &Path, key: &str, to: &TestDb) -> Value {
    json(
        Some(key),
        &[
            "restore",
            id,
            "--repo",
            &work.repo(),
            "--to",
            &to.url,
            "--sanitize",
            s(rules),
            "--json",
        ],
    )
}

// ---------------------------------------------------------------- reading databases

fn strings(db: &TestDb, sql: &str) -> Vec<String> {
    let mut c = db.client();
    c.query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
        .collect()
}

/// `(quoted table, quoted column)` of every column that holds text (text, varchar, char,
/// json, jsonb, inet) in every user table.
fn text_columns(db: &TestDb) -> Vec<(String, String)> {
    let mut c = db.client();
    c.query(
        "SELECT format('%I.%I', table_schema, table_name), format('%I', column_name)
         FROM information_schema.columns c
         JOIN pg_class k ON k.oid = format('%I.%I', table_schema, table_name)::regclass
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND k.relkind = 'r'
           AND udt_name IN ('text', 'varchar', 'bpchar', 'json', 'jsonb', 'inet', 'citext')
         ORDER BY 1, 2",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Every distinct value of every text column, by `table.column`.
fn all_text(db: &TestDb) -> BTreeMap<String, HashSet<String>> {
    text_columns(db)
        .into_iter()
        .map(|(table, column)| {
            let values = strings(
                db,
                &format!(
                    "SELECT DISTINCT {column}::text FROM ONLY {table} WHERE {column} IS NOT NULL"
                ),
            );
            (format!("{table}.{column}"), values.into_iter().collect())
        })
        .collect()
}

/// Values of the named columns (`table.column`, quoted as `all_text` names them), non-empty.
fn originals(db: &TestDb, columns: &[&str]) -> HashSet<String> {
    let text = all_text(db);
    columns
        .iter()
        .flat_map(|c| {
            text.get(*c)
                .unwrap_or_else(|| panic!("no text column {c} in the source"))
                .iter()
                .filter(|v| !v.is_empty())
                .cloned()
        })
        .collect()
}

/// No original value of a masked column appears in any text column of the target, except in
/// a column that held it in the source too and is not masked (an actor may share a
/// customer's first name). JSON documents are searched for the values inside them.
fn assert_no_leak(src: &TestDb, dst: &TestDb, masked: &[&str]) {
    let secrets = originals(src, masked);
    assert!(
        secrets.len() > 10,
        "too few original values to check: {secrets:?}"
    );
    let source = all_text(src);
    let mut leaks = Vec::new();
    for (column, values) in all_text(dst) {
        let is_masked = masked.contains(&column.as_str());
        for value in &values {
            let exact = secrets.contains(value)
                && (is_masked || !source.get(&column).is_some_and(|s| s.contains(value)));
            let inside = serde_json::from_str::<Value>(value)
                .map(|doc| {
                    json_strings(&doc)
                        .iter()
                        .any(|leaf| secrets.contains(*leaf))
                })
                .unwrap_or(false);
            if exact || inside {
                leaks.push(format!("{column}: {value}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "original values leaked into the target:\n{}",
        leaks[..leaks.len().min(20)].join("\n")
    );
}

/// Every string inside a JSON document.
fn json_strings(doc: &Value) -> Vec<&str> {
    match doc {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(json_strings).collect(),
        Value::Object(map) => map.values().flat_map(json_strings).collect(),
        _ => Vec::new(),
    }
}

/// Per table: row count and md5 of its rows in order, computed by the server.
fn content(db: &TestDb) -> BTreeMap<String, (i64, String)> {
    let tables = strings(
        db,
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    );
    let mut c = db.client();
    tables
        .into_iter()
        .map(|t| {
            let row = c
                .query_one(
                    &format!(
                        "SELECT count(*), coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '') FROM ONLY {t} x"
                    ),
                    &[],
                )
                .unwrap();
            (t, (row.get(0), row.get(1)))
        })
        .collect()
}

fn counts(db: &TestDb) -> BTreeMap<String, i64> {
    content(db).into_iter().map(|(t, (n, _))| (t, n)).collect()
}

/// Rows whose foreign key points nowhere, per constraint (all must be zero), re-checked with
/// one anti-join per constraint.
fn dangling_references(db: &TestDb) -> Vec<(String, i64)> {
    let checks = {
        let mut c = db.client();
        c.query(
            "SELECT c.conname::text, format(
                 'SELECT count(*) FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)',
                 c.conrelid::regclass,
                 (SELECT string_agg(format('c.%I IS NOT NULL', a.attname), ' AND ')
                    FROM unnest(c.conkey) k JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k),
                 c.confrelid::regclass,
                 (SELECT string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' AND ')
                    FROM unnest(c.conkey, c.confkey) AS u(ck, fk)
                    JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = u.ck
                    JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = u.fk))
             FROM pg_constraint c
             WHERE c.contype = 'f' AND c.conparentid = 0
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect::<Vec<_>>()
    };
    assert!(
        !checks.is_empty(),
        "no foreign keys to check in {}",
        db.name
    );
    checks
        .into_iter()
        .map(|(name, sql)| (name, db.scalar_i64(&sql)))
        .collect()
}

fn assert_foreign_keys_resolve(db: &TestDb) {
    let broken: Vec<_> = dangling_references(db)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(
        broken.is_empty(),
        "foreign keys point nowhere in {}: {broken:?}",
        db.name
    );
    assert_eq!(
        db.scalar_i64(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
        ),
        0,
        "every foreign key is validated"
    );
}

/// Duplicated keys, per unique index (all must be zero).
fn assert_unique_keys_hold(db: &TestDb) {
    let checks: Vec<(String, String)> = {
        let mut c = db.client();
        c.query(
            "SELECT i.indexrelid::regclass::text, format(
                 'SELECT count(*) FROM (SELECT 1 FROM ONLY %s WHERE %s GROUP BY %s HAVING count(*) > 1) d',
                 i.indrelid::regclass,
                 (SELECT string_agg(format('%I IS NOT NULL', a.attname), ' AND ')
                    FROM unnest(i.indkey::int2[]) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k),
                 (SELECT string_agg(format('%I', a.attname), ', ')
                    FROM unnest(i.indkey::int2[]) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k))
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
             WHERE i.indisunique AND i.indpred IS NULL AND NOT (0 = ANY (i.indkey::int2[]))
               AND t.relkind = 'r' AND t.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
               AND t.relnamespace::regnamespace::text NOT LIKE 'pg_toast%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    assert!(!checks.is_empty(), "no unique keys to check");
    let broken: Vec<String> = checks
        .into_iter()
        .filter(|(_, sql)| db.scalar_i64(sql) > 0)
        .map(|(index, _)| index)
        .collect();
    assert!(broken.is_empty(), "unique keys with duplicates: {broken:?}");
}

// ---------------------------------------------------------------- the project's fixture

const PEOPLE_RULES: &str = r#"
# Masking rules of fixtures/postgres/sanitize_people.sql
[tables.people.columns]
email = { fake = "email" }
full_name = { fake = "name" }
phone = { fake = "phone" }
birth_date = { range = "60 days" }
national_id = "hash"
profile = { json = { "$.phone" = { fake = "phone" }, "$.ssn" = "remove", "$..email" = { fake = "email" } } }
last_ip = { fake = "ip" }
balance = { range = 50 }
created_at = { range = "12 hours" }

[tables.accounts.columns]
owner_email = { fake = "email" }
login = { fake = "username" }

[tables.orders.columns]
amount = { range = 5 }
note = "shuffle"
"#;

const PEOPLE_MASKED: &[&str] = &[
    "public.people.email",
    "public.people.full_name",
    "public.people.phone",
    "public.people.national_id",
    "public.people.last_ip",
    "public.accounts.owner_email",
    "public.accounts.login",
];

fn people_source() -> TestDb {
    let db = TestDb::new("people_src");
    db.psql_file(&support::fixture("postgres/sanitize_people.sql"));
    db
}

#[test]
fn masked_restore_leaks_nothing_keeps_keys_and_counts_and_repeats_exactly_with_the_same_key() {
    let src = people_source();
    let work = Workspace::new();
    let rules = work.file("sanitize.toml", PEOPLE_RULES);
    let id = backup(&src, &work);
    let (a, b, c) = (
        TestDb::new("people_a"),
        TestDb::new("people_b"),
        TestDb::new("people_c"),
    );
    let report = restore_sanitized(&id, &work, &rules, KEY, &a);
    restore_sanitized(&id, &work, &rules, KEY, &b);
    restore_sanitized(&id, &work, &rules, OTHER_KEY, &c);
    assert_eq!(report["sanitize"]["masked_columns"], 13, "{report}");

    assert_no_leak(&src, &a, PEOPLE_MASKED);
    let profile_secrets = strings(&src, "SELECT profile->>'ssn' FROM people UNION ALL SELECT profile->>'phone' FROM people UNION ALL SELECT profile->'prefs'->>'email' FROM people");
    let documents: Vec<Value> = strings(&a, "SELECT profile::text FROM people")
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let masked: HashSet<&str> = documents.iter().flat_map(json_strings).collect();
    let leaked: Vec<&String> = profile_secrets
        .iter()
        .filter(|s| masked.contains(s.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "JSON values leaked: {:?}",
        &leaked[..leaked.len().min(5)]
    );
    assert_eq!(
        a.scalar_i64("SELECT count(*) FROM people WHERE profile ? 'ssn'"),
        0,
        "removed paths are gone"
    );
    assert_eq!(
        a.scalar_i64("SELECT count(*) FROM people WHERE (profile->>'visits')::int = id % 13"),
        2000,
        "unmasked members are kept"
    );

    assert_eq!(counts(&src), counts(&a), "row counts differ");
    assert_foreign_keys_resolve(&a);
    assert_unique_keys_hold(&a);
    // Both ends of accounts.owner_email → people.email were faked alike, so they still join.
    assert_eq!(
        a.scalar_i64("SELECT count(*) FROM accounts JOIN people ON people.email = owner_email"),
        223
    );
    // Fakes keep their formats; noise stays within its bounds and keeps CHECKs true.
    assert_eq!(a.scalar_i64("SELECT count(*) FROM people WHERE email !~ '^[a-z]+\\.[a-z]+\\.[a-z2-7]{13}@example\\.(com|net|org)$'"), 0);
    assert_eq!(
        a.scalar_i64(
            "SELECT count(*) FROM people WHERE phone !~ '^\\+\\d \\(\\d{3}\\) \\d{3}-\\d{4}$'"
        ),
        0
    );
    assert_eq!(
        a.scalar_i64(
            "SELECT count(DISTINCT national_id) FROM people WHERE length(national_id) = 32"
        ),
        2000
    );
    assert_eq!(
        a.scalar_i64("SELECT count(*) FROM people WHERE NOT last_ip << '10.0.0.0/8'::inet"),
        0
    );
    let mut ac = a.client();
    let birth: Vec<(i64, i32)> = ac
        .query(
            "SELECT id, birth_date - date '1950-01-01' FROM people ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        birth
            .iter()
            .all(|(id, days)| (i64::from(*days) - id * 97 % 20000).abs() <= 60),
        "birth dates moved by more than 60 days"
    );
    assert!(
        birth
            .iter()
            .filter(|(id, days)| i64::from(*days) != id * 97 % 20000)
            .count()
            > 1900,
        "birth dates did not move"
    );
    assert_eq!(
        a.scalar_i64("SELECT count(*) FROM orders WHERE amount < 0"),
        0
    );
    // Shuffling keeps the column's values, in another order.
    assert_eq!(
        strings(&a, "SELECT string_agg(note, ',' ORDER BY note) FROM orders"),
        strings(
            &src,
            "SELECT string_agg(note, ',' ORDER BY note) FROM orders"
        )
    );
    assert!(a.scalar_i64("SELECT count(*) FROM orders WHERE note = 'order note ' || id") < 100);

    assert_eq!(
        content(&a),
        content(&b),
        "the same key gave different output"
    );
    let (ca, cc) = (content(&a), content(&c));
    for table in ["public.people", "public.accounts", "public.orders"] {
        assert_ne!(ca[table], cc[table], "another key gave the same {table}");
    }
    assert_eq!(
        ca["public.tags"], cc["public.tags"],
        "an unruled table changed"
    );
}

#[test]
fn copy_with_a_row_filter_keeps_the_referenced_rows_and_no_foreign_key_dangles() {
    let src = people_source();
    let work = Workspace::new();
    let window = "placed_at > timestamptz '2024-06-01 00:00:00+00' + interval '110000 minutes'";
    let rules = work.file(
        "subset.toml",
        &format!("{PEOPLE_RULES}\n[tables.orders]\nwhere = \"{window}\"\n[tables.people]\nwhere = \"false\"\n"),
    );
    let dst = TestDb::new("people_subset");
    let report = json(
        Some(KEY),
        &[
            "copy",
            &src.url,
            &dst.url,
            "--sanitize",
            s(&rules),
            "--jobs",
            "3",
            "--json",
        ],
    );

    let kept_orders = src.scalar_i64(&format!("SELECT count(*) FROM orders WHERE {window}"));
    assert!(kept_orders > 100 && kept_orders < 10_000, "{kept_orders}");
    assert_eq!(dst.scalar_i64("SELECT count(*) FROM orders"), kept_orders);
    // People referenced by the kept orders and by every account (accounts are not filtered),
    // then everyone those people were referred by, transitively.
    let expected_people = src.scalar_i64(&format!(
        "WITH RECURSIVE kept(id) AS (
             SELECT id FROM people
              WHERE id IN (SELECT person_id FROM orders WHERE {window})
                 OR email IN (SELECT owner_email FROM accounts)
             UNION
             SELECT p.referrer_id FROM people p JOIN kept k ON p.id = k.id WHERE p.referrer_id IS NOT NULL)
         SELECT count(*) FROM kept"
    ));
    assert!(expected_people < 2000, "the filter kept everyone");
    assert_eq!(
        dst.scalar_i64("SELECT count(*) FROM people"),
        expected_people
    );
    assert_eq!(dst.scalar_i64("SELECT count(*) FROM accounts"), 223);
    assert_foreign_keys_resolve(&dst);
    assert_unique_keys_hold(&dst);
    assert_no_leak(&src, &dst, PEOPLE_MASKED);
    let filtered = report["sanitize"]["filtered"].as_array().unwrap();
    assert!(
        filtered
            .iter()
            .any(|t| t["table"] == "public.people" && t["kept"] == expected_people),
        "{report}"
    );
    // Sequences come along.
    assert_eq!(
        dst.scalar_i64("SELECT last_value FROM accounts_id_seq"),
        223
    );
}

#[test]
fn a_plain_copy_is_identical_to_its_source() {
    let src = people_source();
    let dst = TestDb::new("people_copy");
    let report = json(None, &["copy", &src.url, &dst.url, "--json"]);
    assert_eq!(
        report["tables"].as_array().map(Vec::len),
        Some(4),
        "{report}"
    );
    assert!(report.get("sanitize").is_none());
    assert_eq!(content(&src), content(&dst));
    let out = strata_with_key(None, &["copy", &src.url, &dst.url]);
    let err = assert_clear_error(&out, "copy into a non-empty database");
    assert!(err.contains("not empty"), "{err}");
    let out = strata_with_key(None, &["copy", &src.url, &src.url, "--clean"]);
    assert_clear_error(&out, "copy into itself");
    assert_eq!(
        content(&src),
        content(&dst),
        "a refused copy changed something"
    );
}

fn user_relations(db: &TestDb) -> i64 {
    db.scalar_i64(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
    )
}

#[test]
fn masking_without_a_key_or_with_broken_rules_is_refused_before_anything_is_written() {
    let src = people_source();
    let work = Workspace::new();
    let id = backup(&src, &work);
    let rules = work.file("sanitize.toml", PEOPLE_RULES);
    let dst = TestDb::new("people_refused");
    let restore = |key: Option<&str>, rules: &Path, extra: &[&str]| {
        let repo = work.repo();
        let mut args = vec![
            "restore",
            id.as_str(),
            "--repo",
            repo.as_str(),
            "--to",
            dst.url.as_str(),
            "--sanitize",
            s(rules),
        ];
        args.extend_from_slice(extra);
        strata_with_key(key, &args)
    };

    let err = assert_clear_error(&restore(None, &rules, &[]), "no key");
    assert!(
        err.contains("STRATA_SANITIZE_KEY") && err.contains("--sanitize-key-file"),
        "{err}"
    );
    let err = assert_clear_error(
        &strata_with_key(None, &["copy", &src.url, &dst.url, "--sanitize", s(&rules)]),
        "copy without a key",
    );
    assert!(err.contains("needs a secret key"), "{err}");
    let short = work.file("short.key", "abc\n");
    let err = assert_clear_error(
        &restore(None, &rules, &["--sanitize-key-file", s(&short)]),
        "short key",
    );
    assert!(err.contains("at least 16"), "{err}");

    let typo = work.file(
        "typo.toml",
        "[tables.people.columns]\nemail = { fake = \"emial\" }\n",
    );
    let err = assert_clear_error(&restore(Some(KEY), &typo, &[]), "misspelled fake");
    assert!(
        err.contains("typo.toml:2:9") && err.contains("unknown fake \"emial\""),
        "{err}"
    );

    for (rules, expected) in [
        (
            "[tables.people.columns]\nfull_name = \"null\"\n",
            "NOT NULL",
        ),
        (
            "[tables.people.columns]\nbirth_date = \"hash\"\n",
            "does not apply to a date column",
        ),
        (
            "[tables.people.columns]\nemail = { fake = \"name\" }\n",
            "unique",
        ),
        (
            "[tables.people.columns]\nemail = \"hash\"\n",
            "references public.people.email",
        ),
        (
            "[tables.persons.columns]\nemail = \"hash\"\n",
            "no such table",
        ),
        (
            "[tables.people.columns]\nmail = \"hash\"\n",
            "no such column",
        ),
    ] {
        let path = work.file("bad.toml", rules);
        let err = assert_clear_error(&restore(Some(KEY), &path, &[]), rules);
        assert!(err.contains(expected), "{rules}: {err}");
    }
    assert_eq!(
        user_relations(&dst),
        0,
        "a refused restore wrote to the target"
    );

    // A value that cannot be masked fails its table's load, which is rolled back, and the
    // restore drops the tables it created; the error names the column but never quotes the
    // value.
    let not_json = work.file(
        "not-json.toml",
        "[tables.orders.columns]\nnote = { json = { \"$.x\" = \"null\" } }\n",
    );
    let half = TestDb::new("people_not_json");
    let repo = work.repo();
    let out = strata_with_key(
        Some(KEY),
        &[
            "restore",
            &id,
            "--repo",
            &repo,
            "--to",
            &half.url,
            "--sanitize",
            s(&not_json),
        ],
    );
    let err = assert_clear_error(&out, "a JSON rule on text that is not JSON");
    assert!(
        err.contains("public.orders.note") && err.contains("not valid JSON"),
        "{err}"
    );
    assert!(
        !err.contains("order note"),
        "the error quoted the value: {err}"
    );
    assert_eq!(
        half.scalar_i64("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"),
        0,
        "the failed restore left tables behind"
    );

    // The key file works like the environment variable, and gives the same output.
    let key_file = work.file("sanitize.key", &format!("{KEY}\n"));
    restore(None, &rules, &["--sanitize-key-file", s(&key_file)]);
    let with_env = TestDb::new("people_env_key");
    restore_sanitized(&id, &work, &rules, KEY, &with_env);
    assert_eq!(content(&dst), content(&with_env));
}

// ---------------------------------------------------------------- sanitize check

fn check(key_rules: &Path, against: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec![
        "sanitize",
        "check",
        s(key_rules),
        "--against",
        against,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = strata_with_key(None, &args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", describe(&out)));
    (out.status.code(), report)
}

fn finding_kinds(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}.{}:{}",
                f["table"].as_str().unwrap(),
                f["column"].as_str().unwrap_or("-"),
                f["kind"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn sanitize_check_fails_on_an_unruled_email_and_passes_once_every_personal_column_is_ruled() {
    let src = people_source();
    let work = Workspace::new();
    let without_email = work.file(
        "partial.toml",
        &PEOPLE_RULES.replace("email = { fake = \"email\" }\n", ""),
    );
    let (code, report) = check(&without_email, &src.url, &[]);
    assert_eq!(code, Some(1), "{report}");
    let kinds = finding_kinds(&report);
    assert!(
        kinds.contains(&"public.people.email:personal".to_string()),
        "{kinds:?}"
    );
    assert!(report["sampled"].as_bool().unwrap());

    // Found by its values alone: a column whose name says nothing.
    src.execute("ALTER TABLE people ADD COLUMN contact_info text; UPDATE people SET contact_info = 'person' || id || '@x.example.org'");
    let full = work.file("full.toml", PEOPLE_RULES);
    let (code, report) = check(&full, &src.url, &[]);
    assert_eq!(code, Some(1), "{report}");
    let finding = &report["findings"][0];
    assert_eq!(finding["column"], "contact_info", "{report}");
    assert!(
        finding["reason"]
            .as_str()
            .unwrap()
            .contains("email addresses"),
        "{report}"
    );

    let covered = work.file(
        "covered.toml",
        &PEOPLE_RULES.replace(
            "created_at = { range = \"12 hours\" }",
            "created_at = { range = \"12 hours\" }\ncontact_info = \"null\"",
        ),
    );
    let (code, report) = check(&covered, &src.url, &[]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["findings"], serde_json::json!([]));

    // --strict: every column needs a rule, `keep` included.
    let (code, report) = check(&covered, &src.url, &["--strict"]);
    assert_eq!(code, Some(1));
    let kinds = finding_kinds(&report);
    assert!(
        kinds.contains(&"public.tags.tag:unruled".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"public.people.id:unruled".to_string()),
        "{kinds:?}"
    );

    // Names in the rules that do not exist.
    let unknown = work.file(
        "unknown.toml",
        "[tables.persons.columns]\nemail = \"hash\"\n[tables.people.columns]\nmail = \"hash\"\n",
    );
    let (code, report) = check(&unknown, &src.url, &[]);
    assert_eq!(code, Some(1));
    let kinds = finding_kinds(&report);
    assert!(
        kinds.contains(&"persons.-:unknown_table".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"public.people.mail:unknown_column".to_string()),
        "{kinds:?}"
    );

    // Against a schema file: names only.
    let schema = work.file("schema.yaml", &support::snapshot(&src.url, &[]));
    let (code, report) = check(&without_email, s(&schema), &[]);
    assert_eq!(code, Some(1));
    assert!(!report["sampled"].as_bool().unwrap());
    assert!(finding_kinds(&report).contains(&"public.people.email:personal".to_string()));
    let text = strata_with_key(
        None,
        &[
            "sanitize",
            "check",
            s(&without_email),
            "--against",
            s(&schema),
        ],
    );
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("public.people.email: no rule; the name"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------- SQLite

#[test]
fn a_sqlite_copy_is_masked_and_keeps_storage_classes() {
    let work = Workspace::new();
    let src = work.dir.path().join("src.db");
    let conn = rusqlite::Connection::open(&src).unwrap();
    conn.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, phone, code, score REAL);
         CREATE TABLE notes (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), body TEXT);",
    )
    .unwrap();
    for i in 1..=300i64 {
        conn.execute(
            "INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                i,
                format!("c{i}@shop.example.org"),
                format!("555-01{:02}", i % 100),
                if i % 2 == 0 {
                    rusqlite::types::Value::Integer(i)
                } else {
                    rusqlite::types::Value::Text(format!("{i}"))
                },
                i as f64 / 4.0
            ],
        )
        .unwrap();
        conn.execute("INSERT INTO notes VALUES (?1, ?1, 'note ' || ?1)", [i])
            .unwrap();
    }
    drop(conn);
    let rules = work.file(
        "sqlite.toml",
        "[tables.customers.columns]\nemail = { fake = \"email\" }\nphone = { fake = \"phone\" }\ncode = \"hash\"\nscore = { range = 1 }\n",
    );
    let dst = work.dir.path().join("dst.db");
    let target = format!("sqlite:{}", s(&dst));
    ok(
        Some(KEY),
        &["copy", s(&src), &target, "--sanitize", s(&rules)],
    );

    let db = rusqlite::Connection::open(&dst).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM customers"), 300);
    assert_eq!(
        count("SELECT count(*) FROM customers WHERE email LIKE 'c%@shop.example.org'"),
        0
    );
    assert_eq!(
        count("SELECT count(DISTINCT email) FROM customers WHERE email LIKE '%@example.%'"),
        300
    );
    assert_eq!(count("SELECT count(*) FROM customers WHERE phone GLOB '[0-9][0-9][0-9]-[0-9][0-9][0-9][0-9]'"), 300);
    assert!(
        count("SELECT count(*) FROM customers WHERE phone = printf('555-01%02d', id % 100)") < 10
    );
    // A hashed integer stays an integer, a hashed text a text.
    assert_eq!(
        count("SELECT count(*) FROM customers WHERE id % 2 = 0 AND typeof(code) = 'integer'"),
        150
    );
    assert_eq!(
        count("SELECT count(*) FROM customers WHERE id % 2 = 1 AND typeof(code) = 'text'"),
        150
    );
    assert_eq!(count("SELECT count(*) FROM customers WHERE code = id"), 0);
    assert_eq!(count("SELECT count(*) FROM customers WHERE typeof(score) = 'real' AND abs(score - id / 4.0) <= 1.0"), 300);
    assert_eq!(
        count("SELECT count(*) FROM notes JOIN customers ON customers.id = notes.customer_id"),
        300
    );

    // The same rules mask a SQLite backup restored into PostgreSQL: they are checked against
    // the converted schema, and the converted rows are masked on their way in.
    let repo = work.repo();
    let summary = json(None, &["backup", s(&src), "--repo", &repo, "--json"]);
    let id = summary["id"].as_str().unwrap();
    let pg = TestDb::new("sqlite_into_pg");
    json(
        Some(KEY),
        &[
            "restore",
            id,
            "--repo",
            &repo,
            "--to",
            &pg.url,
            "--sanitize",
            s(&rules),
            "--json",
        ],
    );
    assert_eq!(pg.scalar_i64("SELECT count(*) FROM customers"), 300);
    assert_eq!(
        pg.scalar_i64("SELECT count(*) FROM customers WHERE email LIKE 'c%@shop.example.org'"),
        0
    );
    assert_eq!(
        pg.scalar_i64("SELECT count(DISTINCT email) FROM customers WHERE email LIKE '%@example.%'"),
        300
    );
    assert_foreign_keys_resolve(&pg);
}

// ---------------------------------------------------------------- Pagila

const PAGILA_RULES: &str = r#"
[tables.customer.columns]
first_name = { fake = "first_name" }
last_name = { fake = "last_name" }
email = { fake = "email" }

[tables.staff.columns]
first_name = { fake = "first_name" }
last_name = { fake = "last_name" }
email = { fake = "email" }
username = { fake = "username" }
password = "null"
picture = "null"

[tables.address.columns]
address = { fake = "address" }
address2 = { fake = "address" }
phone = { fake = "phone" }
postal_code = { fake = "postal_code" }
"#;

const PAGILA_MASKED: &[&str] = &[
    "public.customer.first_name",
    "public.customer.last_name",
    "public.customer.email",
    "public.staff.first_name",
    "public.staff.last_name",
    "public.staff.email",
    "public.staff.username",
    "public.address.address",
    "public.address.address2",
    "public.address.phone",
];

/// Pagila loaded once for the whole test binary, and its backup.
fn pagila() -> Option<&'static (TestDb, Workspace, String)> {
    static PAGILA: OnceLock<Option<(TestDb, Workspace, String)>> = OnceLock::new();
    PAGILA
        .get_or_init(|| {
            let schema = support::shared_fixture("pagila/pagila-schema.sql")?;
            let data = support::shared_fixture("pagila/pagila-data.sql")?;
            let db = TestDb::new("pagila_src");
            db.psql_file(&schema);
            db.psql_file(&data);
            let work = Workspace::new();
            let id = backup(&db, &work);
            Some((db, work, id))
        })
        .as_ref()
}

#[test]
fn pagila_masked_restore_leaks_no_personal_value_keeps_every_key_and_is_deterministic() {
    let Some((src, work, id)) = pagila() else {
        return;
    };
    let rules = work.file("pagila.toml", PAGILA_RULES);
    let (a, b, c) = (
        TestDb::new("pagila_a"),
        TestDb::new("pagila_b"),
        TestDb::new("pagila_c"),
    );
    restore_sanitized(id, work, &rules, KEY, &a);
    restore_sanitized(id, work, &rules, KEY, &b);
    restore_sanitized(id, work, &rules, OTHER_KEY, &c);

    assert_no_leak(src, &a, PAGILA_MASKED);
    assert_eq!(counts(src), counts(&a), "row counts differ");
    assert_foreign_keys_resolve(&a);
    assert_unique_keys_hold(&a);
    assert_eq!(
        a.scalar_i64("SELECT count(DISTINCT email) FROM customer"),
        src.scalar_i64("SELECT count(DISTINCT email) FROM customer"),
        "distinct emails stay distinct"
    );
    assert_eq!(
        content(&a),
        content(&b),
        "the same key gave different output"
    );
    let (ca, cc) = (content(&a), content(&c));
    for table in ["public.customer", "public.staff", "public.address"] {
        assert_ne!(ca[table], cc[table], "another key gave the same {table}");
    }
    assert_eq!(
        ca["public.film"],
        content(src)["public.film"],
        "an unmasked table changed"
    );
}

#[test]
fn a_pagila_subset_of_recent_payments_keeps_every_foreign_key_resolving() {
    let Some((src, work, id)) = pagila() else {
        return;
    };
    let window =
        "payment_date > (SELECT max(payment_date) FROM public.payment) - interval '30 days'";
    let rules = work.file(
        "pagila-subset.toml",
        &format!(
            "{}\n[tables.payment]\nwhere = \"{window}\"\n[tables.rental]\nwhere = \"false\"\n[tables.inventory]\nwhere = \"false\"\n",
            PAGILA_RULES.replace("[tables.customer.columns]", "[tables.customer]\nwhere = \"false\"\n[tables.customer.columns]")
        ),
    );
    let dst = TestDb::new("pagila_subset");
    let report = restore_sanitized(id, work, &rules, KEY, &dst);
    assert_foreign_keys_resolve(&dst);
    assert_unique_keys_hold(&dst);
    let kept = dst.scalar_i64("SELECT count(*) FROM payment");
    assert_eq!(
        kept,
        src.scalar_i64(&format!("SELECT count(*) FROM payment WHERE {window}"))
    );
    assert_eq!(
        dst.scalar_i64(&format!(
            "SELECT count(*) FROM payment WHERE NOT ({window})"
        )),
        0
    );
    for table in ["rental", "customer", "inventory"] {
        let (before, after) = (
            src.scalar_i64(&format!("SELECT count(*) FROM {table}")),
            dst.scalar_i64(&format!("SELECT count(*) FROM {table}")),
        );
        assert!(
            after > 0 && after < before,
            "{table}: {after} of {before} rows kept"
        );
    }
    // Every rental a kept payment points at is there (the partitions with a foreign key).
    assert_eq!(dst.scalar_i64("SELECT count(*) FROM payment_p2022_06 p LEFT JOIN rental r USING (rental_id) WHERE r.rental_id IS NULL"), 0);
    assert!(
        report["sanitize"]["filtered"].as_array().unwrap().len() >= 4,
        "{report}"
    );
    assert_no_leak(src, &dst, PAGILA_MASKED);
}
