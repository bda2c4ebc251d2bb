//! What the object storage test servers share: a helper process (moto for S3, Azurite for Azure)
//! that prints `READY <port> <words…>` when it listens on 127.0.0.1, then answers one line per
//! command line (`bucket NAME`, `container NAME`) and exits when its standard input closes, i.e.
//! when the test process is gone; where the setup script installs them; the environment of a
//! `strata` run that reaches them; and [`Gate`], which lets a test take a server away and bring it
//! back.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running helper process and the words of its `READY` line after the port.
pub struct ServerProcess {
    pub port: u16,
    pub words: Vec<String>,
    control: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    _child: Child,
}

impl ServerProcess {
    /// Runs `program args…` and waits for its `READY <port> …` line; `what` names the server in
    /// messages (its own errors go to the test's stderr).
    pub fn start(what: &str, program: &Path, args: &[&Path]) -> ServerProcess {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({}): {e}", program.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut ready = String::new();
        stdout
            .read_line(&mut ready)
            .unwrap_or_else(|e| panic!("reading {what}'s first line: {e}"));
        let mut words = ready.split_whitespace().map(str::to_string);
        let (Some("READY"), Some(port)) = (words.next().as_deref(), words.next()) else {
            panic!("{what} did not start (it said {ready:?}); its errors are above");
        };
        ServerProcess {
            port: port.parse().expect("a port number"),
            words: words.collect(),
            control: Mutex::new((stdin, stdout)),
            _child: child,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends one command and panics unless the answer is `ok`.
    pub fn command(&self, command: &str) {
        let mut control = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let (stdin, stdout) = &mut *control;
        writeln!(stdin, "{command}").expect("the test server is gone");
        let mut answer = String::new();
        stdout
            .read_line(&mut answer)
            .expect("the test server is gone");
        assert_eq!(answer.trim(), "ok", "{command}");
    }
}

static NAMES: AtomicUsize = AtomicUsize::new(0);

/// A fresh bucket or container name after `hint`, valid for S3 and Azure alike (lower-case
/// letters, digits and single hyphens, at most 63 characters).
pub fn unique_name(hint: &str) -> String {
    let n = NAMES.fetch_add(1, Ordering::SeqCst);
    let clean = super::lowercase_name(hint, '-');
    let words: Vec<&str> = clean.split('-').filter(|w| !w.is_empty()).collect();
    let name = format!("t{n}-{}", words.join("-"));
    name.chars()
        .take(48)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Panics with what to run when a test server's install is missing.
pub fn require_installed(what: &str, path: &Path) {
    assert!(
        path.exists(),
        "{what} is not installed at {}: run scripts/setup-test-env.sh",
        path.display()
    );
}

/// Variables that configure object storage access; none of them leaks from the environment the
/// tests run in into a `strata` run.
fn is_storage_variable(key: &str) -> bool {
    [
        "AWS_",
        "GOOGLE_",
        "GCE_METADATA_",
        "AZURE_",
        "AZURITE_",
        "STRATA_S3_",
        "STRATA_CLOUD_",
    ]
    .iter()
    .any(|head| key.starts_with(head))
}

/// A `strata` command with `args`, the test environment ([`super::test_environment_command`])
/// and `env`, without any object storage variable of the environment the tests run in.
pub fn strata_command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut command = super::test_environment_command(args);
    for (key, _) in std::env::vars() {
        if is_storage_variable(&key) {
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

/// `(NAME, value)` pairs as owned strings.
pub fn env_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `env` with `key` set to `value` (replacing it if present).
pub fn with_var(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<_> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.to_string(), value.to_string()));
    env
}

/// A TCP relay on its own port of 127.0.0.1 to a test server, which a test can close (the port
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
        let gate = Gate {
            port: super::backup_suite::closed_port(),
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
