//! Test harness: a throwaway PostgreSQL cluster per test binary (initdb into a temporary
//! directory, a free port on 127.0.0.1, stopped when the test process exits), one fresh
//! database per test, and helpers to run `psql` and the `strata` binary.
//!
//! When the tests run as root, the cluster runs as the unprivileged `nobody` user (PostgreSQL
//! refuses to run as root).

#![allow(dead_code)]

pub mod azure;
pub mod backup_suite;
pub mod cloud_suite;
pub mod prune_suite;
pub mod repo;
pub mod s3;
pub mod server;
pub mod sqlite;
pub mod terminal;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Cluster {
    pub port: u16,
    pub bindir: PathBuf,
    pub dir: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The PostgreSQL server binaries: `$STRATA_PG_BINDIR`, else `pg_config --bindir`.
pub fn pg_bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("STRATA_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let out = Command::new("pg_config").arg("--bindir").output().expect(
        "pg_config not found: install PostgreSQL server binaries (scripts/setup-test-env.sh)",
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Where test tools and slow-to-build fixtures are kept between runs: `$STRATA_TEST_CACHE`,
/// else `$XDG_CACHE_HOME/strata-test`, else `~/.cache/strata-test` (as scripts/setup-test-env.sh).
pub fn test_cache() -> PathBuf {
    std::env::var_os("STRATA_TEST_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("strata-test"))
        })
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/strata-test")))
        .expect("neither STRATA_TEST_CACHE, XDG_CACHE_HOME nor HOME is set")
}

fn running_as_root() -> bool {
    // SAFETY-free: read the effective uid from /proc to avoid a libc dependency.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Wraps a command so that it runs as `nobody` when we are root.
fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
        c.arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// The cluster shared by every test of this test binary, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start_cluster)
}

fn start_cluster() -> Cluster {
    let bindir = pg_bindir();
    let base = std::env::temp_dir().join(format!(
        "strata-test-pg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&base).unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
    let data = base.join("data");
    let out = as_server_user(&bindir.join("initdb"))
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ])
        .output()
        .expect("initdb failed to start");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    require_password_for_password_tests(&data);
    for _attempt in 0..5 {
        let port = free_port();
        // A watchdog shell owns the server: when this test process exits (normally or not),
        // it stops the server and removes the directory.
        let server = format!(
            "{} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
             -c shared_buffers=128MB",
            bindir.join("postgres").display(),
            data.display(),
            base.display(),
        );
        let server = if running_as_root() {
            format!("setpriv --reuid=nobody --regid=nogroup --clear-groups -- {server}")
        } else {
            server
        };
        let script = format!(
            "{server} >{log} 2>&1 & pg=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.3; done; \
             kill -INT $pg 2>/dev/null; wait $pg; rm -rf {base}",
            log = base.join("server.log").display(),
            parent = std::process::id(),
            base = base.display(),
        );
        // The watchdog is never waited for: it must outlive this process to clean up after it.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start the PostgreSQL watchdog");
        if wait_ready(port) {
            return Cluster {
                port,
                bindir,
                dir: base,
            };
        }
    }
    let log = std::fs::read_to_string(base.join("server.log")).unwrap_or_default();
    panic!("PostgreSQL did not start: {log}");
}

/// Everyone is trusted except the role `strata_pw`, which must give its password: that is how
/// the wrong-password error is tested.
fn require_password_for_password_tests(data: &Path) {
    let hba = data.join("pg_hba.conf");
    let original = std::fs::read_to_string(&hba).expect("pg_hba.conf after initdb");
    let rules = format!(
        "host all strata_pw 127.0.0.1/32 scram-sha-256\nhost all strata_pw ::1/128 scram-sha-256\n{original}"
    );
    std::fs::write(&hba, rules).expect("write pg_hba.conf");
}

fn wait_ready(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let url = format!("host=127.0.0.1 port={port} user=postgres dbname=postgres");
        if let Ok(mut c) = postgres::Client::connect(&url, postgres::NoTls) {
            if c.simple_query("SELECT 1").is_ok() {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// `hint` in lower-case ASCII letters and digits, anything else replaced by `other`.
pub fn lowercase_name(hint: &str, other: char) -> String {
    hint.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() {
                ch.to_ascii_lowercase()
            } else {
                other
            }
        })
        .collect()
}

/// A database of its own for one test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Creates an empty database named after `hint` (plus a counter).
    pub fn new(hint: &str) -> TestDb {
        let c = cluster();
        let n = DB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let clean = lowercase_name(hint, '_');
        let name = format!("t{n}_{clean}");
        let mut admin = postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                c.port
            ),
            postgres::NoTls,
        )
        .unwrap();
        admin
            .simple_query(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))
            .unwrap();
        TestDb {
            url: format!("postgres://postgres@127.0.0.1:{}/{name}", c.port),
            name,
        }
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// Runs SQL through a simple-query batch; panics with the server message on failure.
    pub fn execute(&self, sql: &str) {
        let mut c = self.client();
        if let Err(e) = c.batch_execute(sql) {
            panic!("SQL failed on {}: {e:?}\n{sql}", self.name);
        }
    }

    /// Runs a SQL file with psql (ON_ERROR_STOP), as a user would load a dump.
    pub fn psql_file(&self, file: &Path) {
        let out = self.psql().arg("-f").arg(file).output().unwrap();
        assert!(
            out.status.success(),
            "psql -f {} failed: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs SQL text with psql (ON_ERROR_STOP) and returns stdout.
    pub fn psql_text(&self, sql: &str) -> String {
        use std::io::Write;
        let mut child = self
            .psql()
            .args(["-A", "-t", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn psql(&self) -> Command {
        let c = cluster();
        let mut cmd = Command::new(c.bindir.join("psql"));
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.url]);
        cmd
    }

    /// One value from a query.
    pub fn scalar_i64(&self, sql: &str) -> i64 {
        let mut c = self.client();
        c.query_one(sql, &[]).unwrap().get(0)
    }
}

/// The repository passphrase every test uses (through `STRATA_PASSWORD`).
pub const TEST_PASSPHRASE: &str = "strata test passphrase";

/// A `strata` command with the test environment: repositories are encrypted by default, so
/// `STRATA_PASSWORD` is [`TEST_PASSPHRASE`] and new keys use trivial KDF parameters
/// (`STRATA_TEST_INSECURE_KDF=1`) to keep the suite fast; no other passphrase source leaks in.
/// [`server::strata_command`] adds an object storage environment to it.
pub fn test_environment_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    command
        .args(args)
        .env_remove("PGPASSWORD")
        .env_remove("STRATA_PASSWORD_FILE")
        .env_remove("STRATA_PASSWORD_COMMAND")
        .env_remove("STRATA_NEW_PASSWORD")
        .env_remove("STRATA_IDENTITY")
        .env("STRATA_PASSWORD", TEST_PASSPHRASE)
        .env("STRATA_TEST_INSECURE_KDF", "1")
        .stdin(Stdio::null());
    command
}

/// Runs the `strata` binary with `args` in the test environment ([`strata_command`]).
pub fn strata(args: &[&str]) -> Output {
    strata_command(args).output().expect("could not run strata")
}

/// Bytes as text, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command's exit code, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Every file below `dir` (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Opens (and unlocks with [`TEST_PASSPHRASE`]) the repository at `path` through the library.
pub fn open_repo(path: &Path) -> strata::repo::Repository {
    let store = strata::store::from_location(path.to_str().expect("UTF-8 path")).unwrap();
    open_repo_in(store)
}

/// [`open_repo`] in any store (a directory, an S3 bucket or an Azure container).
pub fn open_repo_in(store: std::sync::Arc<dyn strata::store::Store>) -> strata::repo::Repository {
    strata::repo::Repository::open_with(store, || {
        Ok(strata::repo::Passphrase::new(TEST_PASSPHRASE.to_string()))
    })
    .unwrap()
}

/// Creates an encrypted repository at `path` with `config`'s parameters (e.g. small packs),
/// unlocked by [`TEST_PASSPHRASE`], as `strata init` would with the test environment.
pub fn init_repo_with(path: &Path, config: strata::repo::Config) -> strata::repo::Repository {
    let store = strata::store::from_location(path.to_str().expect("UTF-8 path")).unwrap();
    init_repo_in(store, config)
}

/// [`init_repo_with`] in any store (a directory, an S3 bucket or an Azure container).
pub fn init_repo_in(
    store: std::sync::Arc<dyn strata::store::Store>,
    config: strata::repo::Config,
) -> strata::repo::Repository {
    strata::repo::Repository::init_encrypted(
        store,
        config,
        &strata::repo::Passphrase::new(TEST_PASSPHRASE.to_string()),
        strata::repo::KdfParams::insecure_for_tests().unwrap(),
    )
    .unwrap()
}

/// Runs the `strata` binary with `args` as an unprivileged user (`nobody` when the tests run
/// as root, who could write any file; the current user otherwise).
pub fn strata_unprivileged(args: &[&str]) -> Output {
    as_server_user(Path::new(env!("CARGO_BIN_EXE_strata")))
        .args(args)
        .env_remove("PGPASSWORD")
        .output()
        .expect("could not run strata")
}

/// The command [`strata`] runs, to add environment or run it in the background: the test
/// environment ([`test_environment_command`]) and, once this test binary has started the S3 or
/// the Azure test server, the environment that reaches it ([`s3::S3Server::env`],
/// [`azure::AzureServer::env`]).
pub fn strata_command(args: &[&str]) -> Command {
    let mut env = s3::shared_env();
    env.extend(azure::shared_env());
    server::strata_command(args, &env)
}

/// Whether the tests run as root (see [`strata_unprivileged`]).
pub fn is_root() -> bool {
    running_as_root()
}

/// Creates a SQLite database file at `dir/name` from SQL text.
pub fn sqlite_file(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let path = dir.join(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(sql)
        .unwrap_or_else(|e| panic!("building {name} failed: {e}\n{sql}"));
    path
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file from the project's own fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("fixtures").join(rel)
}

/// A sample database from `../shared/fixtures`, or `None` (with a loud SKIPPED line) when this
/// checkout has no shared fixtures, as in a user's fresh clone.
pub fn shared_fixture(rel: &str) -> Option<PathBuf> {
    let dir = std::env::var("STRATA_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/fixtures"));
    let path = dir.join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: shared fixture {} not found (set STRATA_SHARED_FIXTURES); this test did not run",
            path.display()
        );
        None
    }
}

/// `strata snapshot URL EXTRA…`'s standard output; panics with stderr when it fails.
pub fn snapshot(url: &str, extra: &[&str]) -> String {
    let mut args = vec!["snapshot", url];
    args.extend_from_slice(extra);
    let out = strata(&args);
    assert!(
        out.status.success(),
        "strata snapshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("snapshot is UTF-8")
}

/// `strata apply FILE --to URL --yes --allow-all-hazards`, unchecked.
pub fn apply_all(file: &Path, url: &str) -> Output {
    strata(&[
        "apply",
        file.to_str().expect("UTF-8 path"),
        "--to",
        url,
        "--yes",
        "--allow-all-hazards",
    ])
}

/// First differing lines of two texts, for readable failures.
pub fn first_difference(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = al
        .iter()
        .zip(&bl)
        .position(|(x, y)| x != y)
        .unwrap_or(al.len().min(bl.len()));
    let from = i.saturating_sub(3);
    format!(
        "line {}:\n--- expected\n{}\n--- actual\n{}",
        i + 1,
        bl[from..(i + 4).min(bl.len())].join("\n"),
        al[from..(i + 4).min(al.len())].join("\n")
    )
}

/// Flips one bit of the file at `at` (negative: from the end).
pub fn flip(path: &Path, at: i64) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = if at < 0 {
        bytes.len() - at.unsigned_abs() as usize
    } else {
        at as usize
    };
    bytes[i] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
