//! An S3-compatible server for the tests: moto (`tests/support/s3_server.py`) on a free port of
//! 127.0.0.1, with signed requests and real credential checks, started on first use and shared by
//! every test of the test binary, one bucket per test (as one database per test on the
//! PostgreSQL cluster). The server exits when this process does (its standard input closes).
//!
//! moto is installed by `scripts/setup-test-env.sh` into a virtual environment under
//! `$STRATA_TEST_CACHE` (default `~/.cache/strata-test`); a missing install fails the test with
//! what to run, never skips it.
//!
//! [`Gate`] stands between strata and the server so that a test can take the server away (close
//! its port and cut every connection, which is what a client sees when a server stops) and bring
//! it back with its objects intact.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use strata::store::{S3Options, S3Store, Store};

/// The moto release the setup script installs (the virtual environment is named after it).
pub const MOTO_VERSION: &str = "5.2.5";

pub struct S3Server {
    pub port: u16,
    pub access_key: String,
    pub secret_key: String,
    control: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    _child: Child,
}

static SERVER: OnceLock<S3Server> = OnceLock::new();
static BUCKETS: AtomicUsize = AtomicUsize::new(0);

/// The server shared by every test of this test binary, started on first use.
pub fn s3_server() -> &'static S3Server {
    SERVER.get_or_init(S3Server::start)
}

/// The environment for the shared server if this test binary started it, else nothing.
pub fn shared_env() -> Vec<(String, String)> {
    SERVER.get().map(S3Server::env).unwrap_or_default()
}

/// Where the setup script puts the test server's virtual environment.
pub fn moto_venv() -> PathBuf {
    super::test_cache().join(format!("moto-{MOTO_VERSION}"))
}

impl S3Server {
    fn start() -> S3Server {
        let python = moto_venv().join("bin/python");
        assert!(
            python.exists(),
            "the S3 test server (moto {MOTO_VERSION}) is not installed at {}: run scripts/setup-test-env.sh",
            moto_venv().display()
        );
        let script = super::repo_root().join("tests/support/s3_server.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut ready = String::new();
        stdout
            .read_line(&mut ready)
            .expect("reading the S3 test server's first line");
        let words: Vec<&str> = ready.split_whitespace().collect();
        let ["READY", port, access_key, secret_key] = words[..] else {
            panic!("the S3 test server did not start (it said {ready:?}); its errors are above");
        };
        S3Server {
            port: port.parse().expect("a port number"),
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            control: Mutex::new((stdin, stdout)),
            _child: child,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a fresh bucket named after `hint` and returns its name.
    pub fn bucket(&self, hint: &str) -> String {
        let n = BUCKETS.fetch_add(1, Ordering::SeqCst);
        let clean: String = super::lowercase_name(hint, '-').chars().take(40).collect();
        let name = format!("t{n}-{}", clean.trim_matches('-'));
        let mut control = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let (stdin, stdout) = &mut *control;
        writeln!(stdin, "bucket {name}").expect("the S3 test server is gone");
        let mut answer = String::new();
        stdout
            .read_line(&mut answer)
            .expect("the S3 test server is gone");
        assert_eq!(answer.trim(), "ok", "creating bucket {name}");
        name
    }

    /// The environment strata needs to reach this server through `endpoint`, with short retries
    /// so that failures show quickly.
    pub fn env_for(&self, endpoint: &str) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", self.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("STRATA_S3_RETRIES", "2"),
            ("STRATA_S3_RETRY_SECONDS", "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    pub fn env(&self) -> Vec<(String, String)> {
        self.env_for(&self.endpoint())
    }

    /// The store at `url` as strata opens it, for tests that look at or damage objects.
    pub fn store(&self, url: &str) -> Arc<dyn Store> {
        let options = S3Options::from_pairs(self.env()).expect("valid S3 options");
        Arc::new(S3Store::open(url, &options).expect("an S3 store"))
    }
}

/// A `strata` command with `args`, the test environment ([`super::test_environment_command`])
/// and `env`, without any `AWS_*` or `STRATA_S3_*` variable of the environment the tests run in.
pub fn strata_command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut command = super::test_environment_command(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("STRATA_S3_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// Runs `strata` with `args` and `env` (see [`strata_command`]).
pub fn strata_with(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    strata_command(args, env)
        .output()
        .expect("could not run strata")
}

/// A TCP relay on its own port of 127.0.0.1 to the S3 server, which a test can close (the port
/// refuses connections and every open connection is cut) and open again.
pub struct Gate {
    pub port: u16,
    target: u16,
    state: Arc<GateState>,
}

struct GateState {
    open: AtomicBool,
    connections: Mutex<Vec<TcpStream>>,
}

impl Gate {
    pub fn new(target: u16) -> Gate {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free port on 127.0.0.1");
        let gate = Gate {
            port,
            target,
            state: Arc::new(GateState {
                open: AtomicBool::new(false),
                connections: Mutex::new(Vec::new()),
            }),
        };
        gate.open();
        gate
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts accepting connections again (on the same port).
    pub fn open(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("re-binding the gate");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        self.state.open.store(true, Ordering::SeqCst);
        let (state, target) = (Arc::clone(&self.state), self.target);
        std::thread::spawn(move || {
            while state.open.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => relay(&state, client, target),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            // The listener is dropped here: the port refuses connections.
        });
    }

    /// Refuses new connections and cuts every open one.
    pub fn close(&self) {
        self.state.open.store(false, Ordering::SeqCst);
        let mut connections = self
            .state
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for stream in connections.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Let the accept loop notice and drop its listener.
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.close();
    }
}

fn relay(state: &Arc<GateState>, client: TcpStream, target: u16) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    {
        let mut connections = state.connections.lock().unwrap_or_else(|p| p.into_inner());
        for stream in [&client, &server] {
            if let Ok(copy) = stream.try_clone() {
                connections.push(copy);
            }
        }
    }
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    };
    pipe(client, server2);
    pipe(server, client2);
}
