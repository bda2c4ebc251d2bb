//! Where repository passphrases come from, and opening a repository with one.
//!
//! The current passphrase: `--password-command` (its standard output), else `--password-file`,
//! else `STRATA_PASSWORD`, else a prompt without echo when the standard input is a terminal,
//! else an error that says how to give one. It is asked only when the repository turns out to
//! be encrypted. A new passphrase (`init`, `key add`, `key passwd`) comes from the same sources
//! for `init`, and from `--new-password-file` / `--new-password-command` / `STRATA_NEW_PASSWORD`
//! or a prompt asked twice for the key commands.
//!
//! `STRATA_TEST_INSECURE_KDF=1` makes new keys use trivial Argon2 parameters so that test
//! suites stay fast; it must never be set for real repositories.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Args;

use crate::error::{Error, Result};
use crate::repo::{Identities, KdfParams, Passphrase, Repository};

/// Variable holding the repository passphrase.
pub const PASSWORD_ENV: &str = "STRATA_PASSWORD";
/// Variable holding the new passphrase of `key add` / `key passwd`.
pub const NEW_PASSWORD_ENV: &str = "STRATA_NEW_PASSWORD";
/// Test-only: when `1`, new keys use trivial KDF parameters.
pub const INSECURE_KDF_ENV: &str = "STRATA_TEST_INSECURE_KDF";

/// How to get the passphrase of an encrypted repository.
#[derive(Debug, Clone, Default, Args)]
pub struct PasswordArgs {
    /// Read the repository passphrase from FILE (a final newline is ignored). Default when
    /// neither this nor --password-command is given: $STRATA_PASSWORD, else a prompt on a
    /// terminal.
    #[arg(long, value_name = "FILE", env = "STRATA_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Run COMMAND (with `sh -c`) and use what it prints as the repository passphrase (e.g.
    /// `pass show backups/shop`). Takes precedence over --password-file.
    #[arg(long, value_name = "COMMAND", env = "STRATA_PASSWORD_COMMAND")]
    pub password_command: Option<String>,
    /// Read the age identity (AGE-SECRET-KEY-1…, as `strata key generate-identity` or
    /// `age-keygen` writes it) from FILE: what reads the backups of a repository created with
    /// --recipient. Other repositories ignore it.
    #[arg(long, value_name = "FILE", env = "STRATA_IDENTITY")]
    pub identity: Option<PathBuf>,
}

/// How to get a new passphrase for `key add` and `key passwd`.
#[derive(Debug, Clone, Default, Args)]
pub struct NewPasswordArgs {
    /// Read the new passphrase from FILE. Default: $STRATA_NEW_PASSWORD, else a prompt (asked
    /// twice) on a terminal.
    #[arg(long, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
    /// Run COMMAND (with `sh -c`) and use what it prints as the new passphrase.
    #[arg(long, value_name = "COMMAND")]
    pub new_password_command: Option<String>,
}

impl PasswordArgs {
    /// The passphrase of the repository at `location`.
    pub fn read(&self, location: &str) -> std::result::Result<Passphrase, String> {
        read_from(
            self.password_command.as_deref(),
            self.password_file.as_ref(),
            PASSWORD_ENV,
            &format!("passphrase for {location}: "),
            false,
        )
    }

    /// The age identities of `--identity`, if given.
    pub fn identities(&self) -> Result<Option<Identities>> {
        let Some(path) = &self.identity else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Refused(format!("cannot read identity file {}: {e}", path.display()))
        })?;
        Identities::parse(&text)
            .map(Some)
            .map_err(|e| Error::Refused(format!("identity file {}: {e}", path.display())))
    }

    /// The passphrase of a repository being created (asked twice on a terminal).
    pub fn read_new(&self, location: &str) -> std::result::Result<Passphrase, String> {
        read_from(
            self.password_command.as_deref(),
            self.password_file.as_ref(),
            PASSWORD_ENV,
            &format!("passphrase for the new repository {location}: "),
            true,
        )
    }
}

impl NewPasswordArgs {
    /// The new passphrase for a key of the repository at `location`.
    pub fn read(&self, location: &str) -> std::result::Result<Passphrase, String> {
        read_from(
            self.new_password_command.as_deref(),
            self.new_password_file.as_ref(),
            NEW_PASSWORD_ENV,
            &format!("new passphrase for {location}: "),
            true,
        )
    }
}

/// Opens the repository at `location`, unlocking it if it is encrypted (and, given
/// `--identity`, able to read a public-key repository's content).
pub fn open_repository(location: &str, password: &PasswordArgs) -> Result<Repository> {
    let store = crate::store::from_location(location)?;
    let shown = store.location();
    let identities = password.identities()?;
    Ok(Repository::open_with_identity(
        store,
        || password.read(&shown),
        identities,
    )?)
}

/// KDF parameters for a new key: the recommended ones, or trivial ones under
/// `STRATA_TEST_INSECURE_KDF=1` (tests only).
pub fn kdf_for_new_keys() -> Result<KdfParams> {
    let insecure = std::env::var(INSECURE_KDF_ENV).is_ok_and(|v| v == "1");
    Ok(if insecure {
        KdfParams::insecure_for_tests()?
    } else {
        KdfParams::recommended()?
    })
}

/// A passphrase from a command, a file, a variable or a prompt, in that order.
fn read_from(
    command: Option<&str>,
    file: Option<&PathBuf>,
    variable: &str,
    prompt: &str,
    confirm: bool,
) -> std::result::Result<Passphrase, String> {
    let passphrase = if let Some(command) = command {
        run_command(command)?
    } else if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the passphrase file {}: {e}", file.display()))?;
        Passphrase::new(text)
    } else if let Ok(text) = std::env::var(variable) {
        Passphrase::new(text)
    } else if std::io::stdin().is_terminal() {
        ask(prompt, confirm)?
    } else {
        return Err(format!(
            "no passphrase given: set {variable}, or pass --password-file FILE or --password-command COMMAND (or run on a terminal to be asked)"
        ));
    };
    if passphrase.is_empty() {
        return Err("the passphrase is empty".to_string());
    }
    Ok(passphrase)
}

fn run_command(command: &str) -> std::result::Result<Passphrase, String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run the password command {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the password command {command:?} failed ({})",
            output.status
        ));
    }
    let text = String::from_utf8(output.stdout).map_err(|_| {
        format!("the password command {command:?} printed something that is not UTF-8")
    })?;
    Ok(Passphrase::new(text))
}

fn ask(prompt: &str, confirm: bool) -> std::result::Result<Passphrase, String> {
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Passphrase::new)
            .map_err(|e| format!("cannot read the passphrase from the terminal: {e}"))
    };
    let passphrase = read(prompt)?;
    if confirm {
        let again = read("the same passphrase again: ")?;
        if !passphrase.same_as(&again) {
            return Err("the two passphrases differ".to_string());
        }
    }
    Ok(passphrase)
}
