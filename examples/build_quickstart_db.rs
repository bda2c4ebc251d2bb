//! Builds `examples/quickstart/shop.db` from `examples/quickstart/shop.sql`, replacing the old
//! file. Run it through `examples/quickstart/build.sh` (it needs no `sqlite3` command-line
//! tool: SQLite comes with strata's own dependencies).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match build() {
        Ok(path) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("build_quickstart_db: {message}");
            ExitCode::FAILURE
        }
    }
}

fn build() -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let script_path = dir.join("shop.sql");
    let script = std::fs::read_to_string(&script_path)
        .map_err(|e| format!("{}: {e}", script_path.display()))?;
    // Build beside the target and rename over it, so a failed build never leaves half a file.
    let target = dir.join("shop.db");
    let partial = dir.join("shop.db.partial");
    let _ = std::fs::remove_file(&partial);
    let conn =
        rusqlite::Connection::open(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    conn.execute_batch(&script)
        .map_err(|e| format!("{}: {e}", script_path.display()))?;
    // A compact file without free pages keeps the committed binary small.
    conn.execute_batch("VACUUM")
        .map_err(|e| format!("VACUUM: {e}"))?;
    conn.close().map_err(|(_, e)| e.to_string())?;
    std::fs::rename(&partial, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    Ok(target)
}
