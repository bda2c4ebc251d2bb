//! The backup repository as a specification: round trips, row-aligned chunks, deduplication,
//! crash safety, damage detection and clear errors. No database involved: streams are generated
//! COPY-text-like rows.
//!
//! `cargo test --release --test repo -- --ignored --nocapture` prints writer/reader throughput
//! and the chunk size distribution.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use strata::repo::chunker::Chunker;
use strata::repo::config::ChunkerParams;
use strata::repo::{
    Backup, BackupKind, CheckOptions, Config, KdfParams, Manifest, Passphrase, ProblemKind,
    RepoError, Repository, Source, StreamSummary, TableEntry,
};
use strata::schema::{EngineKind, Schema};
use strata::store::{LocalStore, Store};

// ---------------------------------------------------------------- helpers

/// Deterministic COPY-text-like rows: id, name, email, timestamp, amount, free text.
fn rows(first: u64, count: u64, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut out = Vec::with_capacity(count as usize * 110);
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    for id in first..first + count {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let w = |shift: u32| WORDS[((x >> shift) & 15) as usize];
        let text: Vec<&str> = (0..(x >> 60) as u32 % 8 + 2).map(|i| w(i * 4)).collect();
        out.extend_from_slice(
            format!(
                "{id}\t{} {}\t{}{}@example.com\t2024-{:02}-{:02} {:02}:{:02}:00+00\t{}.{:02}\t{}\n",
                w(8),
                w(12),
                w(16),
                id % 997,
                (x >> 20) % 12 + 1,
                (x >> 24) % 28 + 1,
                (x >> 28) % 24,
                (x >> 32) % 60,
                (x >> 36) % 10_000,
                (x >> 44) % 100,
                text.join(" "),
            )
            .as_bytes(),
        );
    }
    out
}

fn new_repo(dir: &Path) -> Repository {
    Repository::init(store_at(dir)).unwrap()
}

const PASSPHRASE: &str = "repository test passphrase";

fn passphrase() -> Passphrase {
    Passphrase::new(PASSPHRASE.to_string())
}

/// An encrypted repository (trivial KDF parameters: tests only).
fn init_encrypted(dir: &Path, config: Config) -> Repository {
    let kdf = KdfParams::insecure_for_tests().unwrap();
    Repository::init_encrypted(store_at(dir), config, &passphrase(), kdf).unwrap()
}

/// Opens a repository, encrypted or not.
fn open_any(dir: &Path) -> Repository {
    Repository::open_with(store_at(dir), || Ok(passphrase())).unwrap()
}

fn store_at(dir: &Path) -> Arc<dyn Store> {
    Arc::new(LocalStore::new(dir))
}

fn source() -> Source {
    Source::new(EngineKind::Postgres, "15", "postgres://app:secret@db/shop")
}

/// Writes the given tables as one backup.
fn backup(repo: &Repository, tables: &[(&str, &[u8])]) -> (Backup, Vec<StreamSummary>) {
    let writer = repo.writer().unwrap();
    let mut manifest = Manifest::new(BackupKind::Complete, source());
    manifest.schema = Some(Schema::new(EngineKind::Postgres, "15"));
    let mut summaries = Vec::new();
    for (name, data) in tables {
        let mut stream = writer.stream(name);
        // Uneven write sizes, as COPY delivers them.
        for piece in data.chunks(65_537) {
            stream.write_bytes(piece).unwrap();
        }
        let summary = stream.finish().unwrap();
        manifest
            .tables
            .push(TableEntry::from_stream(*name, &summary));
        summaries.push(summary);
    }
    (writer.commit(manifest).unwrap(), summaries)
}

fn read_table(repo: &Repository, backup: &Backup, name: &str) -> Vec<u8> {
    let table = backup.manifest.table(name).unwrap();
    let mut out = Vec::new();
    repo.read_stream(backup, table)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn pack_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut packs = Vec::new();
    for fan in std::fs::read_dir(dir.join("packs")).unwrap() {
        for pack in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            packs.push(pack.unwrap().path());
        }
    }
    packs.sort();
    packs
}

// ---------------------------------------------------------------- round trips

#[test]
fn streams_read_back_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let big = rows(0, 480_000, 1);
    assert!(big.len() > 50_000_000, "{}", big.len());
    let tables: Vec<(&str, &[u8])> = vec![
        ("public.empty", b""),
        ("public.one_row", b"1\tone\n"),
        ("public.unterminated", b"1\tone\n2\ttwo"),
        ("public.big", &big),
    ];
    let (saved, summaries) = backup(&repo, &tables);
    assert_eq!(summaries[1].newlines, 1);
    assert_eq!(summaries[3].newlines, 480_000);
    assert!(summaries[0].chunks.is_empty());

    let repo = Repository::open(store_at(dir.path())).unwrap();
    let loaded = repo.load_backup(&saved.id.to_string()[..10]).unwrap();
    assert_eq!(loaded, saved);
    assert_eq!(
        loaded.manifest.source.database,
        "postgres://app:***@db/shop"
    );
    for (name, data) in &tables {
        assert_eq!(read_table(&repo, &loaded, name), *data, "{name}");
    }
    assert_eq!(loaded.manifest.table("public.big").unwrap().rows, 480_000);
    let report = repo
        .check(&CheckOptions {
            read_data: true,
            backups: None,
        })
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn every_chunk_ends_after_a_newline() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let data = rows(0, 200_000, 2);
    let (_, summaries) = backup(&repo, &[("public.t", &data)]);
    assert!(summaries[0].chunks.len() > 20);
    let mut offset = 0;
    for (i, id) in summaries[0].chunks.iter().enumerate() {
        let chunk = repo.read_blob(id).unwrap();
        assert!(chunk.ends_with(b"\n"), "chunk {i} does not end a row");
        assert_eq!(&data[offset..offset + chunk.len()], &chunk[..]);
        offset += chunk.len();
    }
    assert_eq!(offset, data.len());
}

#[test]
fn segments_concatenate_to_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let (a, b) = (rows(0, 30_000, 3), rows(30_000, 30_000, 3));
    let writer = repo.writer().unwrap();
    let mut table = TableEntry::new("public.split");
    for part in [&a, &b] {
        let mut stream = writer.stream("public.split");
        stream.copy_from(&part[..]).unwrap();
        table.add_segment(&stream.finish().unwrap());
    }
    let mut manifest = Manifest::new(BackupKind::DataOnly, source());
    manifest.tables.push(table);
    let saved = writer.commit(manifest).unwrap();
    assert_eq!(
        read_table(&repo, &saved, "public.split"),
        [a.clone(), b].concat()
    );
    let table = saved.manifest.table("public.split").unwrap();
    let mut second = Vec::new();
    repo.read_segment(&saved, table, 0)
        .unwrap()
        .read_to_end(&mut second)
        .unwrap();
    assert_eq!(second, a);
}

// ---------------------------------------------------------------- deduplication

#[test]
fn the_same_stream_twice_stores_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let data = rows(0, 300_000, 4);
    let (first, _) = backup(&repo, &[("public.t", &data)]);
    let (second, summaries) = backup(&repo, &[("public.t", &data)]);
    assert_eq!(summaries[0].new_bytes, 0);
    assert_eq!(second.manifest.stats.stored_bytes, 0);
    assert!(first.manifest.stats.stored_bytes > 0);
    // Also across a reopen (index loaded from disk).
    let repo = Repository::open(store_at(dir.path())).unwrap();
    let (_, summaries) = backup(&repo, &[("public.t", &data)]);
    assert_eq!(summaries[0].new_bytes, 0);
}

#[test]
fn an_encrypted_repository_reads_back_deduplicates_and_opens_only_with_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init_encrypted(dir.path(), Config::new());
    let data = rows(0, 100_000, 10);
    let (first, summaries) = backup(&repo, &[("public.t", &data)]);
    // Blob ids are keyed: they are not the plain hash of the chunk.
    let chunk = repo.read_blob(&summaries[0].chunks[0]).unwrap();
    assert_ne!(summaries[0].chunks[0].0, *blake3::hash(&chunk).as_bytes());
    let (second, summaries) = backup(&repo, &[("public.t", &data)]);
    assert_eq!(summaries[0].new_bytes, 0);
    assert_eq!(second.manifest.stats.stored_bytes, 0);

    let wrong = Repository::open_with(store_at(dir.path()), || {
        Ok(Passphrase::new("wrong".to_string()))
    });
    assert!(matches!(
        wrong,
        Err(RepoError::WrongPassphrase { keys: 1, .. })
    ));
    assert!(matches!(
        Repository::open(store_at(dir.path())),
        Err(RepoError::PassphraseNeeded { .. })
    ));
    let repo = open_any(dir.path());
    assert_eq!(repo.config().chunker, {
        let mut chunker = Config::new().chunker;
        chunker.seed = repo.config().chunker.seed;
        chunker
    });
    assert_ne!(repo.config().chunker.seed, 0, "a secret random seed");
    let loaded = repo.load_backup_id(&first.id).unwrap();
    assert_eq!(read_table(&repo, &loaded, "public.t"), data);
    let report = repo
        .check(&CheckOptions {
            read_data: true,
            backups: None,
        })
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn appending_five_percent_rows_stores_under_ten_percent() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let data = rows(0, 400_000, 5);
    backup(&repo, &[("public.t", &data)]);
    let grown = [data.clone(), rows(400_000, 20_000, 55)].concat();
    let (_, summaries) = backup(&repo, &[("public.t", &grown)]);
    let ratio = summaries[0].new_bytes as f64 / grown.len() as f64;
    println!("append 5%: {:.2}% of the stream is new", ratio * 100.0);
    assert!(ratio < 0.10, "{ratio}");
}

#[test]
fn changing_one_row_stores_one_or_two_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let data = rows(0, 300_000, 6);
    backup(&repo, &[("public.t", &data)]);
    let middle = data.len() / 2;
    let row_start = data[..middle].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let mut changed = data.clone();
    changed.splice(row_start..row_start + 3, b"changed-row-".iter().copied());
    let (_, summaries) = backup(&repo, &[("public.t", &changed)]);
    println!(
        "one changed row: {} new chunks, {} new bytes of {}",
        summaries[0].new_chunks,
        summaries[0].new_bytes,
        changed.len()
    );
    assert!((1..=2).contains(&summaries[0].new_chunks));
}

// ---------------------------------------------------------------- crash safety

#[test]
fn an_uncommitted_backup_is_not_listed_and_its_blobs_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new();
    config.pack_size = 1 << 20;
    let repo = Repository::init_with(store_at(dir.path()), config).unwrap();
    let data = rows(0, 200_000, 7);
    {
        let writer = repo.writer().unwrap();
        let mut stream = writer.stream("public.t");
        stream.write_bytes(&data).unwrap();
        // Simulate a process killed mid-backup: no commit, no clean-up, no index file.
        std::mem::forget(stream);
        std::mem::forget(writer);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!pack_files(dir.path()).is_empty(), "packs were stored");

    let repo = Repository::open(store_at(dir.path())).unwrap();
    assert!(repo.list_backups().unwrap().backups.is_empty());
    let (saved, summaries) = backup(&repo, &[("public.t", &data)]);
    let reused = 1.0 - summaries[0].new_bytes as f64 / data.len() as f64;
    println!(
        "after a crash, {:.1}% of the stream was reused",
        reused * 100.0
    );
    assert!(reused > 0.5, "{reused}");
    assert_eq!(read_table(&repo, &saved, "public.t"), data);

    // The commit indexed the recovered packs: a fresh open needs no recovery.
    let repo = Repository::open(store_at(dir.path())).unwrap();
    let report = repo
        .check(&CheckOptions {
            read_data: true,
            backups: None,
        })
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(repo.list_backups().unwrap().backups.len(), 1);
}

#[test]
fn a_dropped_writer_leaves_no_backup_but_indexes_its_packs() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new();
    config.pack_size = 1 << 20;
    let repo = Repository::init_with(store_at(dir.path()), config).unwrap();
    let data = rows(0, 200_000, 8);
    {
        let writer = repo.writer().unwrap();
        let mut stream = writer.stream("public.t");
        stream.write_bytes(&data).unwrap();
        drop(stream);
    }
    assert!(repo.list_backups().unwrap().backups.is_empty());
    assert!(!repo.store().list("index/").unwrap().is_empty());
    assert!(repo.store().list("locks/").unwrap().is_empty());
}

// ---------------------------------------------------------------- damage

fn damaged_setup() -> (tempfile::TempDir, Backup) {
    damaged_setup_in(false)
}

/// A repository with two tables in 1 MiB packs, encrypted or not.
fn damaged_setup_in(encrypted: bool) -> (tempfile::TempDir, Backup) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new();
    config.pack_size = 1 << 20;
    let repo = if encrypted {
        init_encrypted(dir.path(), config)
    } else {
        Repository::init_with(store_at(dir.path()), config).unwrap()
    };
    let data = rows(0, 60_000, 9);
    let (saved, _) = backup(&repo, &[("public.t", &data), ("public.u", b"1\tx\n")]);
    (dir, saved)
}

fn read_data_check(dir: &Path) -> strata::repo::CheckReport {
    let repo = open_any(dir);
    repo.check(&CheckOptions {
        read_data: true,
        backups: None,
    })
    .unwrap()
}

#[test]
fn a_flipped_byte_in_a_blob_is_reported_with_backup_table_and_blob() {
    let (dir, saved) = damaged_setup();
    let pack = &pack_files(dir.path())[0];
    let mut bytes = std::fs::read(pack).unwrap();
    bytes[100] ^= 0x20;
    std::fs::write(pack, &bytes).unwrap();

    let report = read_data_check(dir.path());
    let damaged = report
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::DamagedBlob)
        .unwrap_or_else(|| panic!("{:?}", report.problems));
    assert_eq!(damaged.backup, Some(saved.id));
    assert!(damaged.table.is_some());
    assert!(damaged.blob.is_some() && damaged.pack.is_some());
    println!("{damaged}");

    // The structure check alone does not read data, so it passes.
    let repo = Repository::open(store_at(dir.path())).unwrap();
    assert!(repo.check(&CheckOptions::default()).unwrap().is_ok());

    // Reading the table fails with the same names.
    let table = damaged.table.clone().unwrap();
    let entry = saved.manifest.table(&table).unwrap();
    let mut sink = Vec::new();
    let err = repo
        .read_stream(&saved, entry)
        .unwrap()
        .read_to_end(&mut sink)
        .unwrap_err();
    let message = RepoError::from_io(&err).unwrap().to_string();
    assert!(message.contains(&saved.id.short()), "{message}");
    assert!(message.contains(&table), "{message}");
    assert!(
        message.contains(&damaged.blob.unwrap().to_string()),
        "{message}"
    );
}

#[test]
fn any_flipped_byte_in_a_pack_names_the_backup_and_table() {
    flips_anywhere_in_packs_are_named(false);
}

#[test]
fn any_flipped_byte_in_an_encrypted_pack_names_the_backup_and_table() {
    flips_anywhere_in_packs_are_named(true);
}

fn flips_anywhere_in_packs_are_named(encrypted: bool) {
    let (dir, saved) = damaged_setup_in(encrypted);
    let packs = pack_files(dir.path());
    let original: Vec<Vec<u8>> = packs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let mut state = 12345u64;
    for round in 0..12 {
        let which = round % packs.len();
        let mut bytes = original[which].clone();
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        // Every region: header, blobs, trailer, footer.
        let at = match round % 4 {
            0 => (state % 8) as usize,
            3 => bytes.len() - 1 - (state % 100) as usize,
            _ => (state % bytes.len() as u64) as usize,
        };
        bytes[at] ^= 1 << (state % 8);
        std::fs::write(&packs[which], &bytes).unwrap();
        let report = read_data_check(dir.path());
        assert!(!report.is_ok(), "flip at {at} went unnoticed");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.backup == Some(saved.id) && p.table.is_some()),
            "flip at {at} of {}: {:?}",
            bytes.len(),
            report.problems
        );
        std::fs::write(&packs[which], &original[which]).unwrap();
    }
}

#[test]
fn a_deleted_pack_is_reported_by_the_structure_check() {
    let (dir, saved) = damaged_setup();
    let pack = pack_files(dir.path()).pop().unwrap();
    std::fs::remove_file(&pack).unwrap();
    let repo = Repository::open(store_at(dir.path())).unwrap();
    let report = repo.check(&CheckOptions::default()).unwrap();
    let missing = report
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::MissingPack)
        .unwrap_or_else(|| panic!("{:?}", report.problems));
    assert_eq!(missing.backup, Some(saved.id));
    assert!(missing.table.is_some());
    let name = pack.file_name().unwrap().to_str().unwrap();
    assert_eq!(missing.pack.unwrap().to_string(), name);
}

#[test]
fn a_damaged_manifest_is_reported_and_others_still_list() {
    let (dir, saved) = damaged_setup();
    let repo = Repository::open(store_at(dir.path())).unwrap();
    let (other, _) = backup(&repo, &[("public.v", b"1\n")]);
    let path = dir.path().join("backups").join(saved.id.to_string());
    std::fs::write(&path, b"{ not json").unwrap();
    let list = repo.list_backups().unwrap();
    assert_eq!(list.backups.len(), 1);
    assert_eq!(list.backups[0].id, other.id);
    assert_eq!(list.damaged.len(), 1);
    let report = repo.check(&CheckOptions::default()).unwrap();
    assert!(report
        .problems
        .iter()
        .any(|p| p.kind == ProblemKind::DamagedBackup && p.backup == Some(saved.id)));
}

// ---------------------------------------------------------------- errors

#[test]
fn open_explains_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let err = Repository::open(store_at(&dir.path().join("nowhere")))
        .err()
        .unwrap();
    assert!(matches!(err, RepoError::NotARepository { .. }), "{err}");
    assert!(err.to_string().contains("not a strata repository"));

    let repo_dir = dir.path().join("repo");
    new_repo(&repo_dir);
    let err = Repository::init(store_at(&repo_dir)).err().unwrap();
    assert!(matches!(err, RepoError::NotEmpty { .. }), "{err}");

    let config = repo_dir.join("config");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"format\": 1", "\"format\": 7")).unwrap();
    let err = Repository::open(store_at(&repo_dir)).err().unwrap();
    assert!(err.to_string().contains("upgrade strata"), "{err}");

    std::fs::write(&config, &text[..text.len() / 2]).unwrap();
    let err = Repository::open(store_at(&repo_dir)).err().unwrap();
    assert!(matches!(err, RepoError::DamagedConfig { .. }), "{err}");
}

#[test]
fn backup_ids_resolve_by_unique_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let mut ids = Vec::new();
    for i in 0..20 {
        let row = format!("{i}\n");
        ids.push(backup(&repo, &[("public.t", row.as_bytes())]).0.id);
    }
    let full = ids[0].to_string();
    assert_eq!(repo.resolve_backup(&full).unwrap(), ids[0]);
    assert_eq!(repo.resolve_backup(&full[..12]).unwrap(), ids[0]);
    let err = repo.resolve_backup("").err().unwrap();
    assert!(matches!(err, RepoError::UnknownBackup { .. }), "{err}");
    let err = repo.resolve_backup("nothex").err().unwrap();
    assert!(matches!(err, RepoError::UnknownBackup { .. }), "{err}");
    // 20 ids over 16 first digits: some single digit is shared.
    let shared = (0..16)
        .map(|d| format!("{d:x}"))
        .find(|d| {
            ids.iter()
                .filter(|id| id.to_string().starts_with(d))
                .count()
                > 1
        })
        .unwrap();
    let err = repo.resolve_backup(&shared).err().unwrap();
    assert!(matches!(err, RepoError::AmbiguousBackup { .. }), "{err}");
    assert!(err.to_string().contains("ambiguous"));
    let list = repo.list_backups().unwrap();
    assert_eq!(list.backups.len(), 20);
}

#[test]
fn a_manifest_cannot_reference_blobs_the_repository_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let other = new_repo(other_dir.path());
    let (_, summaries) = backup(&other, &[("public.t", b"1\tfrom elsewhere\n")]);
    let writer = repo.writer().unwrap();
    let mut manifest = Manifest::new(BackupKind::DataOnly, source());
    manifest
        .tables
        .push(TableEntry::from_stream("public.t", &summaries[0]));
    let err = writer.commit(manifest).err().unwrap();
    assert!(matches!(err, RepoError::Invalid(_)), "{err}");
    assert!(repo.list_backups().unwrap().backups.is_empty());
}

#[test]
fn parallel_streams_share_one_writer() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    let tables: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| (format!("public.t{i}"), rows(0, 40_000, 100 + i)))
        .collect();
    let writer = repo.writer().unwrap();
    let summaries: Vec<StreamSummary> = std::thread::scope(|scope| {
        let handles: Vec<_> = tables
            .iter()
            .map(|(name, data)| {
                let writer = &writer;
                scope.spawn(move || {
                    let mut stream = writer.stream(name);
                    stream.copy_from(&data[..]).unwrap();
                    stream.finish().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut manifest = Manifest::new(BackupKind::DataOnly, source());
    for ((name, _), summary) in tables.iter().zip(&summaries) {
        manifest.tables.push(TableEntry::from_stream(name, summary));
    }
    let saved = writer.commit(manifest).unwrap();
    for (name, data) in &tables {
        assert_eq!(&read_table(&repo, &saved, name), data);
    }
}

// ---------------------------------------------------------------- measurements

/// User + system CPU time of this process so far (Linux; 0 elsewhere). With other work on
/// the machine, MB per CPU-second is the figure that does not depend on the load.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0
}

/// Backs `data` up twice, reads it back and checks it, printing MB/s and MB per CPU-second.
fn measure_repository(label: &str, repo: &Repository, data: &[u8]) -> Backup {
    let mb = data.len() as f64 / 1e6;
    let timed = |what: &str, run: &mut dyn FnMut()| {
        let (start, cpu) = (Instant::now(), cpu_seconds());
        run();
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        println!(
            "{label}, {what}: {mb:.0} MB in {secs:.2} s = {:.0} MB/s ({cpu:.2} CPU-s, {:.0} MB per CPU-s)",
            mb / secs,
            mb / cpu
        );
    };
    let mut first = None;
    timed("first backup (all new)", &mut || {
        first = Some(backup(repo, &[("public.big", data)]).0)
    });
    let first = first.unwrap();
    timed("second backup (all known)", &mut || {
        let (_, summaries) = backup(repo, &[("public.big", data)]);
        assert_eq!(summaries[0].new_bytes, 0);
    });
    timed("read back", &mut || {
        let table = first.manifest.table("public.big").unwrap();
        let mut reader = repo.read_stream(&first, table).unwrap();
        let read = std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        assert_eq!(read as usize, data.len());
    });
    timed("check --read-data", &mut || {
        let options = CheckOptions {
            read_data: true,
            backups: None,
        };
        assert!(repo.check(&options).unwrap().is_ok());
    });
    println!(
        "{label}: {:.1} MB stored for {mb:.0} MB ({:.1}x)",
        first.manifest.stats.stored_bytes as f64 / 1e6,
        data.len() as f64 / first.manifest.stats.stored_bytes as f64
    );
    first
}

/// Writer and reader throughput (MB/s of input) and the chunk size distribution.
/// Run with `cargo test --release --test repo -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_throughput_and_chunk_sizes() {
    let data = rows(0, 4_500_000, 42);
    let plain_dir = tempfile::tempdir().unwrap();
    measure_repository("unencrypted", &new_repo(plain_dir.path()), &data);
    let sealed_dir = tempfile::tempdir().unwrap();
    let repo = init_encrypted(sealed_dir.path(), Config::new());
    measure_repository("encrypted", &repo, &data);

    let mut sizes = Vec::new();
    let mut chunker = Chunker::new(&ChunkerParams::default());
    let mut emit = |c: &[u8]| -> Result<(), ()> {
        sizes.push(c.len());
        Ok(())
    };
    chunker.push(&data, &mut emit).unwrap();
    chunker.finish(&mut emit).unwrap();
    sizes.sort_unstable();
    let pct = |p: usize| sizes[(sizes.len() - 1) * p / 100] / 1024;
    println!(
        "chunks: {} of avg {} KiB; min {} KiB, p10 {} KiB, p50 {} KiB, p90 {} KiB, max {} KiB",
        sizes.len(),
        data.len() / sizes.len() / 1024,
        sizes[0] / 1024,
        pct(10),
        pct(50),
        pct(90),
        sizes[sizes.len() - 1] / 1024
    );
}
