//! Running a command on a terminal: `script -qefc` (util-linux) gives it a pseudo-terminal as
//! standard input, output and error, so that code asking "is this a terminal?" (passphrase
//! prompts, progress lines) takes its terminal path. What the test types goes to script's
//! standard input and reaches the command as keystrokes; what the command prints, on stdout or
//! stderr, comes back through the terminal, merged, as a person would see it.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a test waits for a prompt or for the command to finish.
const PATIENCE: Duration = Duration::from_secs(120);

/// A command running on a pseudo-terminal.
pub struct Terminal {
    child: Child,
    keyboard: Option<ChildStdin>,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

/// `arg` quoted for `sh -c`.
fn shell_quoted(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

impl Terminal {
    /// Starts `command` (its program, arguments and environment changes; its standard streams
    /// are the terminal's) on a pseudo-terminal.
    pub fn start(command: &Command) -> Terminal {
        let line: Vec<String> = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| shell_quoted(a.to_str().expect("UTF-8 argument")))
            .collect();
        let mut script = Command::new("script");
        script
            .args(["-q", "-e", "-f", "-c", &line.join(" "), "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => script.env(key, value),
                None => script.env_remove(key),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            script.current_dir(dir);
        }
        let mut child = script
            .spawn()
            .expect("`script` (util-linux) runs: apt-get install util-linux");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let sink = screen.clone();
        let reader = std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = out.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Terminal {
            keyboard: child.stdin.take(),
            child,
            screen,
            reader: Some(reader),
        }
    }

    /// Everything shown on the terminal so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal shows `text` (panics with the screen after [`PATIENCE`]).
    pub fn wait_for(&mut self, text: &str) {
        let start = Instant::now();
        while !self.screen().contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The reader may still be draining the last output.
                std::thread::sleep(Duration::from_millis(100));
                assert!(
                    self.screen().contains(text),
                    "{text:?} never shown; the command ended ({status}) with:\n{}",
                    self.screen()
                );
                return;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{text:?} not shown after {PATIENCE:?}; the terminal shows:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter. A short pause first lets a prompt that was just printed switch
    /// echo off, as a person's typing would.
    pub fn type_line(&mut self, line: &str) {
        std::thread::sleep(Duration::from_millis(300));
        let keyboard = self.keyboard.as_mut().expect("the keyboard is still there");
        keyboard.write_all(format!("{line}\n").as_bytes()).unwrap();
        keyboard.flush().unwrap();
    }

    /// Waits for the command to end: its exit code and the whole screen.
    pub fn finish(mut self) -> (i32, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!("still running after {PATIENCE:?}:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Closed only now: script ends the session when its input ends.
        self.keyboard.take();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (status.code().unwrap_or(-1), self.screen())
    }
}
