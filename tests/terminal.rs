//! Strata on a terminal (a pseudo-terminal from `script`): `init` asks for a new passphrase
//! twice without echoing it, `backup` asks for the passphrase of an encrypted repository, a
//! wrong or mismatched passphrase exits 2 with a clear message, and `backup` / `restore` show
//! per-table progress (tables done, rows, bytes, rate) that `--json` turns off.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::terminal::Terminal;
use support::{describe, sqlite_file, strata, strata_command, TestDb};

const PASSPHRASE: &str = "correct horse battery staple";

/// `strata ARGS` with no passphrase in its environment, so that it has to ask.
fn asking(args: &[&str]) -> Command {
    let mut command = strata_command(args);
    command.env_remove("STRATA_PASSWORD");
    command
}

/// `strata init --repo REPO` on a terminal, answering both prompts.
fn init_on_terminal(repo: &Path, first: &str, second: &str) -> (i32, String) {
    let mut terminal = Terminal::start(&asking(&["init", repo.to_str().unwrap()]));
    terminal.wait_for("passphrase for the new repository");
    terminal.type_line(first);
    terminal.wait_for("the same passphrase again");
    terminal.type_line(second);
    terminal.finish()
}

fn small_sqlite(dir: &Path) -> PathBuf {
    sqlite_file(
        dir,
        "app.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO t VALUES (1, 'one'), (2, 'two');",
    )
}

fn backups_with(passphrase: &str, repo: &Path) -> usize {
    let out = strata_command(&["list", "--repo", repo.to_str().unwrap(), "--json"])
        .env("STRATA_PASSWORD", passphrase)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap().len()
}

#[test]
fn init_and_backup_ask_for_the_passphrase_on_a_terminal_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let (code, screen) = init_on_terminal(&repo, PASSPHRASE, PASSPHRASE);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("created encrypted repository"), "{screen}");
    assert!(
        !screen.contains(PASSPHRASE),
        "the passphrase was echoed:\n{screen}"
    );

    let db = small_sqlite(dir.path());
    let source = format!("sqlite:{}", db.display());
    let mut terminal = Terminal::start(&asking(&[
        "backup",
        &source,
        "--repo",
        repo.to_str().unwrap(),
    ]));
    terminal.wait_for(&format!("passphrase for {}", repo.display()));
    terminal.type_line(PASSPHRASE);
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("backup "), "{screen}");
    assert!(
        !screen.contains(PASSPHRASE),
        "the passphrase was echoed:\n{screen}"
    );
    // The typed passphrase is the repository's: the backup is there for it.
    assert_eq!(backups_with(PASSPHRASE, &repo), 1);
}

#[test]
fn init_refuses_two_different_passphrases_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let (code, screen) = init_on_terminal(&repo, PASSPHRASE, "correct horse battery stapler");
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("the two passphrases differ"), "{screen}");
    assert!(!repo.join("config").exists(), "a repository was created");
}

#[test]
fn a_wrong_passphrase_typed_on_a_terminal_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let (code, screen) = init_on_terminal(&repo, PASSPHRASE, PASSPHRASE);
    assert_eq!(code, 0, "{screen}");
    let db = small_sqlite(dir.path());
    let source = format!("sqlite:{}", db.display());
    let before = support::files_under(&repo).len();
    let mut terminal = Terminal::start(&asking(&[
        "backup",
        &source,
        "--repo",
        repo.to_str().unwrap(),
    ]));
    terminal.wait_for("passphrase for");
    terminal.type_line("not the passphrase");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("wrong passphrase"), "{screen}");
    assert!(!screen.contains("panicked"), "{screen}");
    assert_eq!(
        support::files_under(&repo).len(),
        before,
        "something was written"
    );
    assert_eq!(backups_with(PASSPHRASE, &repo), 0);
}

#[test]
fn backup_and_restore_show_progress_per_table_on_a_terminal_and_not_with_json() {
    let src = TestDb::new("progress_src");
    src.execute(
        "CREATE TABLE small (id int PRIMARY KEY, v text);
         INSERT INTO small SELECT g, 'row ' || g FROM generate_series(1, 10) g;
         CREATE TABLE big (id int PRIMARY KEY, v text);
         INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 20000) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let out = strata(&["init", repo.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    let repo = repo.to_str().unwrap();

    let (code, screen) =
        Terminal::start(&strata_command(&["backup", &src.url, "--repo", repo])).finish();
    assert_eq!(code, 0, "{screen}");
    let lines: Vec<&str> = screen.lines().filter(|l| l.contains("] public.")).collect();
    assert_eq!(lines.len(), 2, "one progress line per table:\n{screen}");
    for (line, table, rows) in [
        ("[", "public.big", "20000 rows"),
        ("[", "public.small", "10 rows"),
    ] {
        let line_of_table = lines
            .iter()
            .find(|l| l.contains(&format!("{table}:")))
            .unwrap_or_else(|| panic!("no progress line for {table}:\n{screen}"));
        assert!(
            line_of_table.trim_start().starts_with(line),
            "{line_of_table}"
        );
        assert!(line_of_table.contains(rows), "{line_of_table}");
        // bytes of the table, bytes so far, and the rate: `1.3 MB — 1.3 MB at 12.0 MB/s`.
        assert!(line_of_table.contains(" — "), "{line_of_table}");
        assert!(line_of_table.contains("B at "), "{line_of_table}");
        assert!(line_of_table.contains("B/s"), "{line_of_table}");
    }
    assert!(
        screen.contains("[1/2]") && screen.contains("[2/2]"),
        "{screen}"
    );
    let big = lines.iter().find(|l| l.contains("public.big:")).unwrap();
    assert!(big.contains("MB") || big.contains("kB"), "{big}");

    let (code, screen) = Terminal::start(&strata_command(&[
        "backup", &src.url, "--repo", repo, "--json",
    ]))
    .finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains("] public."),
        "--json shows no progress:\n{screen}"
    );
    let id = screen[screen.find('{').unwrap()..]
        .split("\"id\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no id in {screen}"))
        .to_string();

    let dst = TestDb::new("progress_dst");
    let (code, screen) = Terminal::start(&strata_command(&[
        "restore", &id, "--repo", repo, "--to", &dst.url,
    ]))
    .finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("public.big: 20000 rows"), "{screen}");
    assert!(screen.contains("public.small: 10 rows"), "{screen}");
    assert_eq!(dst.scalar_i64("SELECT count(*) FROM big"), 20000);
}
