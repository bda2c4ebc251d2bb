//! Backup before apply and rollback: a destructive apply followed by `strata rollback` gives
//! the database back exactly (schema snapshot and every row), on PostgreSQL and SQLite; the
//! pre-apply backup is tagged with the plan and recorded; rollback refuses to lose writes made
//! since the apply unless forced.

mod support;

use std::path::Path;
use std::process::Output;

use support::{describe, snapshot, strata_command, TestDb};

/// Runs strata in `dir` (where project discovery starts), with no repository from the
/// environment unless `args` name one.
fn strata_in(dir: &Path, args: &[&str]) -> Output {
    strata_command(args)
        .current_dir(dir)
        .env_remove("STRATA_CONFIG")
        .env_remove("STRATA_REPO")
        .output()
        .expect("could not run strata")
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}", describe(&out));
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(out)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every row of every table (and the sequence positions), in a stable order.
fn pg_rows(db: &TestDb, tables: &[&str]) -> String {
    let mut out = pg_rows_of(db, tables);
    out.push_str(&db.psql_text(
        "SELECT last_value, is_called FROM legacy_id_seq; \
         SELECT last_value, is_called FROM orders_id_seq",
    ));
    out
}

/// Every row of `tables` (or views), in a stable order.
fn pg_rows_of(db: &TestDb, tables: &[&str]) -> String {
    let mut out = String::new();
    for table in tables {
        out.push_str(&format!("-- {table}\n"));
        out.push_str(&db.psql_text(&format!("SELECT r::text FROM {table} AS r ORDER BY 1")));
    }
    out
}

/// Every row of every table of a SQLite file, each value with its storage class.
fn sqlite_rows(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables.retain(|t| t != "sqlite_sequence");
    tables.push("sqlite_sequence".into());
    let mut out = String::new();
    for table in tables {
        let mut statement = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let width = statement.column_count();
        let mut rows: Vec<String> = statement
            .query_map([], |r| {
                let values: Vec<String> = (0..width)
                    .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect();
                Ok(values.join(" | "))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.push_str(&format!("-- {table}\n{}\n", rows.join("\n")));
    }
    out
}

const PG_BEFORE: &str = "
    CREATE TABLE customer (id bigint PRIMARY KEY, name text NOT NULL, score numeric(10,3),
                           notes text);
    CREATE TABLE legacy (id serial PRIMARY KEY, payload jsonb);
    CREATE TABLE orders (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         customer_id bigint NOT NULL REFERENCES customer (id),
                         legacy_id integer REFERENCES legacy (id), memo varchar(200));
    CREATE TABLE audit (at timestamptz, what text);
    INSERT INTO customer (id, name, notes, score) VALUES
        (1, 'Ada', E'line one\\nline two\\twith tab', 12.345),
        (2, 'Bob', NULL, -0.5),
        (3, 'Zoë', 'back\\\\slash and ''quotes''', NULL);
    INSERT INTO legacy (payload) VALUES ('{\"a\": 1}'), ('[1, 2]'), (NULL);
    DELETE FROM legacy WHERE id = 3;
    INSERT INTO orders (customer_id, legacy_id, memo) VALUES (1, 1, 'first'), (2, 2, NULL),
        (1, NULL, 'third');
    INSERT INTO audit VALUES ('2026-01-02 03:04:05+00', 'created'), (NULL, 'created');
";

const PG_AFTER: &str = "
    CREATE TABLE customer (id bigint PRIMARY KEY, name text NOT NULL, score integer);
    CREATE TABLE orders (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         customer_id bigint NOT NULL REFERENCES customer (id),
                         legacy_id integer, memo varchar(200));
";

/// `apply` of schema file `desired` to `url` with repository `dir/repo` and every hazard
/// allowed; its JSON outcome.
fn apply_backed_up(dir: &Path, desired: &Path, url: &str) -> serde_json::Value {
    json(&ok(strata_in(
        dir,
        &[
            "apply",
            desired.to_str().unwrap(),
            "--to",
            url,
            "--repo",
            "repo",
            "--yes",
            "--allow-all-hazards",
            "--json",
        ],
    )))
}

/// Fails with the first difference when `after` is not `before`.
fn assert_same(before: &str, after: &str) {
    assert!(
        after == before,
        "{}",
        support::first_difference(before, after)
    );
}

/// A schema file made from a scratch PostgreSQL database built from `sql`.
fn pg_schema_file(dir: &Path, sql: &str) -> std::path::PathBuf {
    let scratch = TestDb::new("rollback_desired");
    scratch.execute(sql);
    let path = dir.join("desired.yaml");
    std::fs::write(&path, snapshot(&scratch.url, &[])).unwrap();
    path
}

#[test]
fn rollback_after_a_destructive_apply_restores_schema_and_every_row_on_postgres() {
    let db = TestDb::new("rollback_pg");
    db.execute(PG_BEFORE);
    let dir = tempfile::tempdir().unwrap();
    let desired = pg_schema_file(dir.path(), PG_AFTER);
    let tables = ["customer", "legacy", "orders", "audit"];
    let schema_before = snapshot(&db.url, &[]);
    let rows_before = pg_rows(&db, &tables);
    ok(strata_in(dir.path(), &["init", "repo"]));

    let outcome = apply_backed_up(dir.path(), &desired, &db.url);
    assert_eq!(outcome["applied"], true);
    let backup = &outcome["backup"];
    let plan_id = backup["plan_id"].as_str().unwrap().to_string();
    let tags: Vec<&str> = backup["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, ["pre-apply", format!("plan:{plan_id}").as_str()]);
    assert_eq!(
        backup["tables"],
        serde_json::json!(["public.audit", "public.customer", "public.legacy"])
    );
    assert!(backup["record"].as_str().is_some(), "{outcome}");
    assert_eq!(db.scalar_i64("SELECT count(*) FROM customer"), 3);
    assert_ne!(snapshot(&db.url, &[]), schema_before);

    // The backup is in the repository's list with its plan tag.
    let list = json(&ok(strata_in(
        dir.path(),
        &["list", "--repo", "repo", "--json"],
    )));
    let listed = list.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], backup["id"]);
    assert!(listed[0]["tags"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(format!("plan:{plan_id}"))));

    // A dry run shows the plan with the restoring steps and changes nothing.
    let dry = ok(strata_in(
        dir.path(),
        &["rollback", "--to", &db.url, "--repo", "repo", "--dry-run"],
    ));
    let shown = String::from_utf8_lossy(&dry.stdout);
    assert!(
        shown.contains(&format!("Rollback of plan {plan_id}")),
        "{shown}"
    );
    assert!(
        shown.contains("restore the rows of public.customer"),
        "{shown}"
    );
    assert_ne!(snapshot(&db.url, &[]), schema_before);

    let rolled = json(&ok(strata_in(
        dir.path(),
        &[
            "rollback",
            &plan_id[..8],
            "--to",
            &db.url,
            "--repo",
            "repo",
            "--yes",
            "--json",
        ],
    )));
    assert_eq!(rolled["rolled_back"], true);
    assert_eq!(rolled["changes"], serde_json::json!([]));
    assert_same(&schema_before, &snapshot(&db.url, &[]));
    assert_same(&rows_before, &pg_rows(&db, &tables));
    // No staging table is left behind.
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'strata_rollback%'"),
        0
    );
}

const SQLITE_BEFORE: &str = "
    CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, notes TEXT,
                           code TEXT, score REAL);
    CREATE TABLE legacy (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB);
    CREATE TABLE audit (at TEXT, what TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL
                         REFERENCES customer (id), memo TEXT);
    INSERT INTO customer VALUES (1, 'Ada', 'line one
line two', '007', 1.5), (2, 'Bob', NULL, '12', NULL), (3, 'Zoë', 'tab	here', 'x1', 2);
    INSERT INTO legacy (payload) VALUES (X'00FF10'), ('text'), (NULL);
    DELETE FROM legacy WHERE id = 3;
    INSERT INTO audit VALUES ('2026-01-02', 'created'), (NULL, 'created'), (NULL, 'created');
    INSERT INTO orders VALUES (10, 1, 'first'), (11, 3, NULL);
";

const SQLITE_AFTER: &str = "
    CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, code INTEGER,
                           score REAL);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL
                         REFERENCES customer (id), memo TEXT);
";

/// A SQLite database from SQLITE_BEFORE and the schema file of SQLITE_AFTER, in `dir`.
fn sqlite_project(dir: &Path, name: &str) -> std::path::PathBuf {
    let desired_db = support::sqlite_file(dir, "desired.db", SQLITE_AFTER);
    let desired = snapshot(desired_db.to_str().unwrap(), &[]);
    std::fs::write(dir.join("desired.yaml"), desired).unwrap();
    support::sqlite_file(dir, name, SQLITE_BEFORE)
}

#[test]
fn rollback_after_a_destructive_apply_restores_schema_and_every_row_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_project(dir.path(), "app.db");
    let schema_before = snapshot(db.to_str().unwrap(), &[]);
    let rows_before = sqlite_rows(&db);
    ok(strata_in(dir.path(), &["init", "repo"]));
    let applied = apply_backed_up(dir.path(), Path::new("desired.yaml"), "app.db");
    assert_eq!(
        applied["backup"]["tables"],
        serde_json::json!(["audit", "customer", "legacy"])
    );
    assert_ne!(sqlite_rows(&db), rows_before);
    // The record (a sealed object of its own kind) leaves the repository intact for `check`.
    ok(strata_in(dir.path(), &["check", "--repo", "repo"]));

    // The record names the file by its absolute path: another spelling of it finds it.
    let absolute = db.to_str().unwrap();
    ok(strata_in(
        dir.path(),
        &["rollback", "--to", absolute, "--repo", "repo", "--yes"],
    ));
    assert_same(&schema_before, &snapshot(absolute, &[]));
    assert_same(&rows_before, &sqlite_rows(&db));
}

#[test]
fn rollback_refuses_after_a_later_write_to_an_affected_table_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_project(dir.path(), "app.db");
    ok(strata_in(dir.path(), &["init", "repo"]));
    apply_backed_up(dir.path(), Path::new("desired.yaml"), "app.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO customer (id, name, code) VALUES (4, 'Dee', 4)",
        [],
    )
    .unwrap();
    let rows_after_write = sqlite_rows(&db);

    let refused = strata_in(
        dir.path(),
        &["rollback", "--to", "app.db", "--repo", "repo", "--yes"],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains("rows of customer were written after the apply"),
        "{message}"
    );
    assert!(message.contains("--force"), "{message}");
    assert_eq!(
        sqlite_rows(&db),
        rows_after_write,
        "a refused rollback changed the file"
    );
    let unknown = strata_in(
        dir.path(),
        &[
            "rollback", "ffff", "--to", "app.db", "--repo", "repo", "--yes",
        ],
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", describe(&unknown));
    assert!(
        stderr(&unknown).contains("no apply of plan ffff"),
        "{}",
        describe(&unknown)
    );

    ok(strata_in(
        dir.path(),
        &[
            "rollback", "--to", "app.db", "--repo", "repo", "--yes", "--force",
        ],
    ));
    let notes: Vec<(i64, Option<String>)> = conn
        .prepare("SELECT id, notes FROM customer ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // The dropped column is back with its values; the row written since the apply stays.
    assert_eq!(
        notes,
        [
            (1, Some("line one\nline two".to_string())),
            (2, None),
            (3, Some("tab\there".to_string())),
            (4, None)
        ]
    );
}

#[test]
fn promote_backs_up_into_the_project_repository_and_no_backup_takes_none() {
    let dir = tempfile::tempdir().unwrap();
    sqlite_project(dir.path(), "prod.db");
    std::fs::write(
        dir.path().join("strata.toml"),
        "[repo]\nlocation = \"repo\"\n\
         [env.staging]\nurl = \"sqlite:desired.db\"\n[env.prod]\nurl = \"sqlite:prod.db\"\n",
    )
    .unwrap();
    ok(strata_in(dir.path(), &["init", "repo"]));
    let list = || json(&ok(strata_in(dir.path(), &["list", "--json"])));

    // A dry run takes no backup and says so.
    let dry = ok(strata_in(
        dir.path(),
        &["promote", "staging", "prod", "--dry-run"],
    ));
    assert!(
        stderr(&dry).contains("no pre-apply backup taken"),
        "{}",
        describe(&dry)
    );
    assert_eq!(list(), serde_json::json!([]));

    let promoted = json(&ok(strata_in(
        dir.path(),
        &[
            "promote",
            "staging",
            "prod",
            "--yes",
            "--allow-all-hazards",
            "--json",
        ],
    )));
    let listed = list();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], promoted["backup"]["id"]);
    assert!(listed[0]["tags"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("pre-apply")));
    ok(strata_in(
        dir.path(),
        &["rollback", "--to", "prod", "--yes"],
    ));
    let drifted = strata_in(dir.path(), &["diff", "staging", "prod"]);
    assert_eq!(drifted.status.code(), Some(1), "{}", describe(&drifted));

    // --no-backup: applied, no backup, and the outcome says why.
    let skipped = json(&ok(strata_in(
        dir.path(),
        &[
            "promote",
            "staging",
            "prod",
            "--yes",
            "--allow-all-hazards",
            "--no-backup",
            "--json",
        ],
    )));
    assert_eq!(skipped["applied"], true);
    assert!(skipped["backup"]["skipped"]
        .as_str()
        .unwrap()
        .contains("--no-backup"));
    assert_eq!(list().as_array().unwrap().len(), 1);
}

#[test]
fn apply_without_a_repository_says_once_that_no_backup_was_taken() {
    let apply = |dir: &Path| {
        let out = ok(strata_in(
            dir,
            &[
                "apply",
                "desired.yaml",
                "--to",
                "app.db",
                "--yes",
                "--allow-all-hazards",
            ],
        ));
        let message = stderr(&out);
        assert_eq!(
            message.matches("no pre-apply backup taken").count(),
            1,
            "{message}"
        );
        message
    };
    let bare = tempfile::tempdir().unwrap();
    sqlite_project(bare.path(), "app.db");
    assert!(apply(bare.path()).contains("STRATA_REPO"));

    // A project whose repository is not created yet (the starter file's) applies too.
    let project = tempfile::tempdir().unwrap();
    sqlite_project(project.path(), "app.db");
    std::fs::write(
        project.path().join("strata.toml"),
        "[repo]\nlocation = \"backups\"\n",
    )
    .unwrap();
    assert!(apply(project.path()).contains("strata init"));
}

const PG_MIDDLE_BEFORE: &str = "
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN NEW.updated := NEW.updated + 1; RETURN NEW; END $$;
    CREATE TABLE account (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                          code serial NOT NULL, nickname text, email text NOT NULL,
                          updated integer NOT NULL DEFAULT 0);
    CREATE UNIQUE INDEX account_email ON account (email);
    CREATE VIEW account_emails AS SELECT id, email FROM account;
    CREATE TRIGGER account_touch BEFORE UPDATE ON account
        FOR EACH ROW EXECUTE FUNCTION touch();
    COMMENT ON TABLE account IS 'who may sign in';
    COMMENT ON COLUMN account.email IS 'unique';
    GRANT SELECT ON account TO PUBLIC;
    CREATE TABLE membership (account_id bigint NOT NULL REFERENCES account (id),
                             team text NOT NULL);
    INSERT INTO account (nickname, email) VALUES ('ada', 'ada@example.com'),
        (NULL, 'bob@example.com'), ('zoë', 'zoe@example.com');
    DELETE FROM account WHERE id = 2;
    INSERT INTO account (nickname, email) VALUES ('dan', 'dan@example.com');
    INSERT INTO membership VALUES (1, 'core'), (3, 'core'), (4, 'web');
";

/// PG_MIDDLE_BEFORE without `account.nickname`.
fn pg_middle_after() -> String {
    PG_MIDDLE_BEFORE
        .replace("nickname text, ", "")
        .replace("nickname, ", "")
        .replace("('ada', ", "(")
        .replace("(NULL, ", "(")
        .replace("('zoë', ", "(")
        .replace("('dan', ", "(")
}

#[test]
fn rollback_on_postgres_puts_a_dropped_middle_column_back_in_place_with_its_dependents() {
    let db = TestDb::new("rollback_pg_middle");
    db.execute(PG_MIDDLE_BEFORE);
    let dir = tempfile::tempdir().unwrap();
    let desired = pg_schema_file(dir.path(), &pg_middle_after());
    let rows = |db: &TestDb| pg_rows_of(db, &["account", "membership", "account_emails"]);
    let sequences = |db: &TestDb| {
        db.psql_text(
            "SELECT last_value, is_called FROM account_code_seq; \
             SELECT last_value, is_called FROM account_id_seq",
        )
    };
    let schema_before = snapshot(&db.url, &[]);
    let rows_before = rows(&db);
    assert_eq!(sequences(&db), "4|t\n4|t\n");
    ok(strata_in(dir.path(), &["init", "repo"]));
    let applied = apply_backed_up(dir.path(), &desired, &db.url);
    assert_eq!(
        applied["backup"]["tables"],
        serde_json::json!(["public.account"])
    );
    assert_eq!(
        db.scalar_i64(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'"
        ),
        0
    );

    // A row written since the apply is kept (hence --force), as by an in-place rollback.
    db.execute(
        "INSERT INTO account (id, code, email) VALUES (10, 10, 'new@example.com'); \
         INSERT INTO membership VALUES (10, 'new')",
    );
    let dry = ok(strata_in(
        dir.path(),
        &[
            "rollback",
            "--to",
            &db.url,
            "--repo",
            "repo",
            "--dry-run",
            "--force",
        ],
    ));
    let shown = String::from_utf8_lossy(&dry.stdout);
    assert!(shown.contains("keep the rows of public.account"), "{shown}");
    let rolled = json(&ok(strata_in(
        dir.path(),
        &[
            "rollback", "--to", &db.url, "--repo", "repo", "--yes", "--force", "--json",
        ],
    )));
    assert_eq!(rolled["rolled_back"], true);
    assert_eq!(
        db.psql_text("SELECT r::text FROM account AS r WHERE id = 10"),
        "(10,10,,new@example.com,0)\n"
    );
    // The identity sequence, recreated with the table, is set back to its pre-apply position
    // or past the kept row's id, so that the next id drawn cannot collide with it; the serial's
    // sequence was only released and owned again, so it stays where the writes left it.
    assert_eq!(sequences(&db), "4|t\n10|t\n");
    db.execute("DELETE FROM membership WHERE account_id = 10; DELETE FROM account WHERE id = 10");
    assert_same(&schema_before, &snapshot(&db.url, &[]));
    assert_same(&rows_before, &rows(&db));
    // The trigger, the foreign key and the owned sequence work as before.
    db.execute("UPDATE account SET email = 'ada@example.org' WHERE id = 1");
    assert_eq!(
        db.scalar_i64("SELECT updated::bigint FROM account WHERE id = 1"),
        1
    );
    assert_eq!(
        db.scalar_i64(
            "INSERT INTO account (email) VALUES ('eve@example.com') RETURNING code::bigint"
        ),
        5
    );
    assert!(db
        .client()
        .batch_execute("INSERT INTO membership VALUES (99, 'none')")
        .is_err());
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'strata_rollback%'"),
        0
    );
}
