//! Writing a backup: streams in, chunks → blobs → packs → index file → manifest, in that order.
//!
//! A [`Writer`] holds a shared repository lock and a small pool of compression threads. Each
//! table stream ([`TableWriter`], an `io::Write`) is chunked, hashed and deduplicated on the
//! caller's thread; only new chunks are copied and queued (a bounded queue, so memory stays
//! bounded) for the workers, which compress them, seal them (encrypted repositories) and
//! append them to the current pack. A full pack goes to the storer threads (so slow storage
//! never stalls compression; as many as the store runs uploads in parallel, one for a local
//! disk, several for object storage), which store it and add it to the in-memory index; an
//! index file is stored every [`INDEX_EVERY_PACKS`] packs
//! and at commit. [`Writer::commit`] stores the manifest last, so a
//! writer dropped or killed before it leaves no backup, only packs that the next writer reuses.
//!
//! Several `TableWriter`s may be fed from different threads at once (`Writer` is `Sync`).

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::store::Store;

use super::chunker::{count_newlines, Chunker};
use super::config::{ChunkerParams, MAX_BLOB_SIZE};
use super::crypto::Crypto;
use super::error::{RepoError, RepoResult};
use super::id::{BlobId, Id, IdHasher, PackId};
use super::index::{store_index_file, Index, PackListing};
use super::layout;
use super::lock::{Lock, LockKind};
use super::manifest::{Backup, BackupStats, Manifest, MANIFEST_VERSION};
use super::pack::{seal_blob, BlobCompression, PackBuilder};
use super::Repository;

/// An index file is stored after this many packs (≈ 1 GiB), bounding what a crash leaves
/// unindexed (and recovered from pack trailers at the next open).
pub const INDEX_EVERY_PACKS: usize = 64;

/// What writing one stream produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// The stream's chunks, in order.
    pub chunks: Vec<BlobId>,
    /// Bytes written.
    pub bytes: u64,
    /// `\n` bytes written: the row count of COPY text.
    pub newlines: u64,
    /// BLAKE3 of the whole stream.
    pub content_hash: Id,
    /// Chunks that the repository did not hold yet.
    pub new_chunks: u64,
    /// Plaintext bytes of those chunks.
    pub new_bytes: u64,
}

impl StreamSummary {
    fn empty() -> StreamSummary {
        StreamSummary {
            chunks: Vec::new(),
            bytes: 0,
            newlines: 0,
            content_hash: Id([0; 32]),
            new_chunks: 0,
            new_bytes: 0,
        }
    }
}

/// A chunk queued for compression.
struct Job {
    id: BlobId,
    data: Vec<u8>,
}

/// Writes one backup. Create with [`Repository::writer`].
pub struct Writer<'r> {
    repo: &'r Repository,
    hasher: IdHasher,
    chunker: ChunkerParams,
    index: Arc<RwLock<Index>>,
    /// Blobs queued by this writer (deduplicates chunks not yet in a stored pack).
    queued: Mutex<HashSet<BlobId>>,
    shared: Arc<Shared>,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    /// Full packs on their way to the storer threads.
    packs: Option<SyncSender<PackBuilder>>,
    /// Empty once the writer has finished (committed or dropped).
    storers: Vec<JoinHandle<()>>,
    lock: Option<Lock>,
    started: Instant,
}

/// State the compression workers share with the writer.
struct Shared {
    store: Arc<dyn Store>,
    crypto: Crypto,
    index: Arc<RwLock<Index>>,
    level: i32,
    pack_size: usize,
    pack: Mutex<PackBuilder>,
    /// Stored packs that no index file lists yet.
    unindexed: Mutex<Vec<PackListing>>,
    failure: Mutex<Option<String>>,
    failed: AtomicBool,
    cancelled: AtomicBool,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    bytes: AtomicU64,
    new_chunks: AtomicU64,
    new_bytes: AtomicU64,
    stored_bytes: AtomicU64,
}

impl<'r> Writer<'r> {
    pub(crate) fn new(repo: &'r Repository) -> RepoResult<Writer<'r>> {
        // Lock first, then load the index: an index loaded before the lock could list blobs
        // that a prune removed meanwhile, and deduplicating against them would lose data.
        let lock = repo.lock(LockKind::Shared, "backup")?;
        let index = repo.reload_index()?;
        Writer::start(repo, index, Some(lock))
    }

    /// A writer for prune's repacking: it stores every blob it is given (deduplicating only
    /// among them) into new packs with their own index file, and takes no lock (prune holds
    /// the exclusive one).
    pub(crate) fn for_repack(repo: &'r Repository) -> RepoResult<Writer<'r>> {
        Writer::start(repo, Arc::new(RwLock::new(Index::new())), None)
    }

    fn start(
        repo: &'r Repository,
        index: Arc<RwLock<Index>>,
        lock: Option<Lock>,
    ) -> RepoResult<Writer<'r>> {
        let config = repo.config();
        let pack_size = config.pack_size as usize;
        let crypto = repo.crypto().clone();
        let shared = Arc::new(Shared {
            store: repo.store_arc(),
            index: Arc::clone(&index),
            level: config.compression.level,
            pack_size,
            pack: Mutex::new(PackBuilder::new(pack_capacity(pack_size), &crypto)),
            crypto,
            unindexed: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
            failed: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8));
        let (packs, full_packs) = mpsc::sync_channel::<PackBuilder>(1);
        // Each storer holds one pack while it uploads and one waits in the queue; a worker that
        // fills another waits for room. Memory stays bounded by storers + 1 + workers packs.
        let full_packs = Arc::new(Mutex::new(full_packs));
        let storers = (0..repo.store().upload_concurrency().max(1))
            .map(|n| {
                let (shared, full_packs) = (Arc::clone(&shared), Arc::clone(&full_packs));
                spawn(format!("strata-store-{n}"), move || {
                    run_storer(&shared, &full_packs)
                })
            })
            .collect::<RepoResult<Vec<_>>>()?;
        let (jobs, receiver) = mpsc::sync_channel::<Job>(threads * 2);
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = (0..threads)
            .map(|n| {
                let (shared, receiver, packs) =
                    (Arc::clone(&shared), Arc::clone(&receiver), packs.clone());
                spawn(format!("strata-pack-{n}"), move || {
                    run_worker(&shared, &receiver, &packs)
                })
            })
            .collect::<RepoResult<Vec<_>>>()?;
        Ok(Writer {
            repo,
            hasher: repo.id_hasher().clone(),
            chunker: config.chunker,
            index,
            queued: Mutex::new(HashSet::new()),
            shared,
            jobs: Some(jobs),
            workers,
            packs: Some(packs),
            storers,
            lock,
            started: Instant::now(),
        })
    }

    /// Starts writing one table stream (or one segment of a table). `name` appears in errors.
    pub fn stream(&self, name: &str) -> TableWriter<'_> {
        TableWriter {
            writer: self,
            name: name.to_string(),
            chunker: Chunker::new(&self.chunker),
            content: blake3::Hasher::new(),
            summary: StreamSummary::empty(),
        }
    }

    /// Totals so far (for progress display); `chunks` and `duration_ms` are filled at commit.
    pub fn stats(&self) -> BackupStats {
        let c = &self.shared.counters;
        BackupStats {
            bytes: c.bytes.load(Ordering::Relaxed),
            chunks: 0,
            new_chunks: c.new_chunks.load(Ordering::Relaxed),
            new_bytes: c.new_bytes.load(Ordering::Relaxed),
            stored_bytes: c.stored_bytes.load(Ordering::Relaxed),
            duration_ms: self.started.elapsed().as_millis() as u64,
        }
    }

    /// Stores everything pending, then the manifest (with `format` and `stats` filled in), and
    /// releases the lock. The backup exists once this returns `Ok`.
    pub fn commit(mut self, mut manifest: Manifest) -> RepoResult<Backup> {
        self.check_references(&manifest)?;
        self.finish_packs()?;
        manifest.format = MANIFEST_VERSION;
        manifest.stats = BackupStats {
            bytes: manifest.tables.iter().map(|t| t.bytes).sum(),
            chunks: manifest.chunk_count(),
            ..self.stats()
        };
        let bytes = super::backup_record::seal_manifest(&self.shared.crypto, &manifest)?;
        let id = Id::of_object(&bytes);
        self.repo.store().put(&layout::backup_name(&id), &bytes)?;
        // The backup exists now: failing to remove the lock must not report it as failed
        // (dropping removes it on a best-effort basis; a leftover lock goes stale).
        drop(self.lock.take());
        Ok(Backup {
            id,
            manifest,
            content_withheld: false,
        })
    }

    /// Stores one blob (a chunk's plaintext) unless this writer already has it; returns its id.
    pub(crate) fn write_blob(&self, plaintext: &[u8]) -> RepoResult<BlobId> {
        let mut summary = StreamSummary::empty();
        self.add_chunk(plaintext, &mut summary)?;
        Ok(summary.chunks[0])
    }

    /// Stores everything pending and an index file for it, without a manifest (repacking);
    /// returns the packs stored and their bytes.
    pub(crate) fn finish(mut self) -> RepoResult<(Vec<PackId>, u64)> {
        self.finish_packs()?;
        let packs = read_lock(&self.index).packs().to_vec();
        Ok((
            packs,
            self.shared.counters.stored_bytes.load(Ordering::Relaxed),
        ))
    }

    /// Every chunk a manifest references must be stored or queued by this writer.
    fn check_references(&self, manifest: &Manifest) -> RepoResult<()> {
        let index = read_lock(&self.index);
        let queued = lock(&self.queued);
        for table in &manifest.tables {
            let chunks = table.segments.iter().flat_map(|s| &s.chunks);
            if let Some(missing) = chunks
                .into_iter()
                .find(|id| !index.contains(id) && !queued.contains(id))
            {
                return Err(RepoError::Invalid(format!(
                    "manifest table {} references blob {missing}, which this repository does not hold",
                    table.name
                )));
            }
        }
        Ok(())
    }

    /// Waits for the workers, stores the last partial pack and an index file for every pack
    /// not yet indexed (including packs recovered at load).
    fn finish_packs(&mut self) -> RepoResult<()> {
        self.stop_compression();
        let last = std::mem::replace(
            &mut *lock(&self.shared.pack),
            PackBuilder::new(0, &self.shared.crypto),
        );
        if !last.is_empty() {
            if let Some(packs) = &self.packs {
                if packs.send(last).is_err() {
                    self.shared.fail("the pack storer stopped".into());
                }
            }
        }
        self.stop_storer();
        self.shared.check_failure()?;
        let recovered = write_lock(&self.index).take_recovered();
        lock(&self.shared.unindexed).extend(recovered);
        self.shared.store_index_file()
    }

    /// Closes the job queue and waits for the workers (they hand their full packs on).
    fn stop_compression(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }

    /// Closes the pack queue (the workers' ends are gone) and waits for the storers.
    fn stop_storer(&mut self) {
        self.packs = None;
        for storer in self.storers.drain(..) {
            let _ = storer.join();
        }
    }

    /// Hashes a chunk and queues it unless the repository or this writer already has it.
    fn add_chunk(&self, chunk: &[u8], summary: &mut StreamSummary) -> RepoResult<()> {
        let id = self.hasher.blob_id(chunk);
        summary.chunks.push(id);
        if read_lock(&self.index).contains(&id) || !lock(&self.queued).insert(id) {
            return Ok(());
        }
        summary.new_chunks += 1;
        summary.new_bytes += chunk.len() as u64;
        self.shared.check_failure()?;
        let job = Job {
            id,
            data: chunk.to_vec(),
        };
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        if !matches!(sent, Some(Ok(()))) {
            self.shared.check_failure()?;
            return Err(self
                .shared
                .writer_error("compression workers stopped".into()));
        }
        Ok(())
    }
}

impl Drop for Writer<'_> {
    /// An uncommitted writer stores no manifest; packs already stored get an index file (best
    /// effort) so the next backup finds them cheaply.
    fn drop(&mut self) {
        if self.storers.is_empty() {
            return;
        }
        self.shared.cancelled.store(true, Ordering::Relaxed);
        self.stop_compression();
        self.stop_storer();
        let _ = self.shared.store_index_file();
    }
}

/// Writes one stream into the backup: `io::Write`, or [`TableWriter::copy_from`] a reader.
pub struct TableWriter<'w> {
    writer: &'w Writer<'w>,
    name: String,
    chunker: Chunker,
    content: blake3::Hasher,
    summary: StreamSummary,
}

impl TableWriter<'_> {
    /// Feeds bytes of the stream.
    pub fn write_bytes(&mut self, data: &[u8]) -> RepoResult<()> {
        self.content.update(data);
        self.summary.bytes += data.len() as u64;
        self.summary.newlines += count_newlines(data);
        let writer = self.writer;
        let summary = &mut self.summary;
        self.chunker
            .push(data, &mut |chunk| writer.add_chunk(chunk, summary))
            .map_err(|e| self.in_stream(e))
    }

    /// Feeds everything `reader` yields; returns the number of bytes read.
    pub fn copy_from(&mut self, mut reader: impl Read) -> RepoResult<u64> {
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(RepoError::Invalid(format!(
                        "reading the data of {}: {e}",
                        self.name
                    )))
                }
            };
            self.write_bytes(&buf[..n])?;
            total += n as u64;
        }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.summary.bytes
    }

    /// Ends the stream: cuts the last chunk and returns what the stream produced. Its chunks
    /// become durable at [`Writer::commit`].
    pub fn finish(mut self) -> RepoResult<StreamSummary> {
        let writer = self.writer;
        let summary = &mut self.summary;
        self.chunker
            .finish(&mut |chunk| writer.add_chunk(chunk, summary))
            .map_err(|e| self.in_stream(e))?;
        self.summary.content_hash = Id(*self.content.finalize().as_bytes());
        let counters = &self.writer.shared.counters;
        counters
            .bytes
            .fetch_add(self.summary.bytes, Ordering::Relaxed);
        counters
            .new_chunks
            .fetch_add(self.summary.new_chunks, Ordering::Relaxed);
        counters
            .new_bytes
            .fetch_add(self.summary.new_bytes, Ordering::Relaxed);
        Ok(self.summary)
    }

    fn in_stream(&self, error: RepoError) -> RepoError {
        match error {
            RepoError::Writer { location, reason } => RepoError::Writer {
                location,
                reason: format!("{}: {reason}", self.name),
            },
            other => other,
        }
    }
}

impl Write for TableWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_bytes(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn check_failure(&self) -> RepoResult<()> {
        if !self.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        let reason = lock(&self.failure).clone().unwrap_or_default();
        Err(self.writer_error(reason))
    }

    fn fail(&self, reason: String) {
        let mut failure = lock(&self.failure);
        if failure.is_none() {
            *failure = Some(reason);
        }
        self.failed.store(true, Ordering::Release);
    }

    fn writer_error(&self, reason: String) -> RepoError {
        RepoError::Writer {
            location: self.store.location(),
            reason,
        }
    }

    /// Compresses and seals one chunk and appends it to the current pack; returns the pack
    /// when full. The work happens before taking the pack's lock, so workers run in parallel.
    fn add_blob(
        &self,
        job: Job,
        compressor: &mut zstd::bulk::Compressor<'_>,
    ) -> RepoResult<Option<PackBuilder>> {
        let raw_length = job.data.len();
        let compressed = compressor
            .compress(&job.data)
            .map_err(|e| self.writer_error(format!("zstd: {e}")))?;
        let (plain, compression) = if compressed.len() < raw_length {
            (compressed, BlobCompression::Zstd)
        } else {
            (job.data, BlobCompression::None)
        };
        let stored = seal_blob(&self.crypto, plain)?;
        let mut pack = lock(&self.pack);
        pack.add(job.id, &stored, raw_length, compression);
        let full = (pack.len() >= self.pack_size).then(|| {
            std::mem::replace(
                &mut *pack,
                PackBuilder::new(pack_capacity(self.pack_size), &self.crypto),
            )
        });
        Ok(full)
    }

    /// Stores a pack, makes its blobs known, and stores an index file every few packs.
    fn store_pack(&self, pack: PackBuilder) -> RepoResult<()> {
        let pack = pack.finish()?;
        self.store.put(&layout::pack_name(&pack.id), &pack.bytes)?;
        self.counters
            .stored_bytes
            .fetch_add(pack.bytes.len() as u64, Ordering::Relaxed);
        write_lock(&self.index).add_pack(pack.id, &pack.entries);
        let due = {
            let mut unindexed = lock(&self.unindexed);
            unindexed.push((pack.id, pack.entries));
            unindexed.len() >= INDEX_EVERY_PACKS
        };
        if due {
            self.store_index_file()?;
        }
        Ok(())
    }

    /// Stores one index file listing every pack not yet indexed.
    fn store_index_file(&self) -> RepoResult<()> {
        let listings = std::mem::take(&mut *lock(&self.unindexed));
        if listings.is_empty() {
            return Ok(());
        }
        let result = store_index_file(self.store.as_ref(), &self.crypto, &listings);
        if result.is_err() {
            // Keep them for the next attempt; the packs are recoverable from trailers anyway.
            lock(&self.unindexed).extend(listings);
        }
        result.map(|_| ())
    }
}

fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> RepoResult<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .spawn(body)
        .map_err(|e| RepoError::Writer {
            location: String::new(),
            reason: format!("cannot start a writer thread: {e}"),
        })
}

/// Compresses queued chunks; hands full packs to the storer. After a failure or a cancel it
/// keeps draining the queue so that feeders never block.
fn run_worker(shared: &Shared, jobs: &Mutex<Receiver<Job>>, packs: &SyncSender<PackBuilder>) {
    let mut compressor = match zstd::bulk::Compressor::new(shared.level) {
        Ok(c) => c,
        Err(e) => return shared.fail(format!("zstd: {e}")),
    };
    loop {
        let job = match lock(jobs).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        if shared.failed.load(Ordering::Relaxed) || shared.cancelled.load(Ordering::Relaxed) {
            continue;
        }
        match shared.add_blob(job, &mut compressor) {
            Ok(None) => {}
            Ok(Some(full)) => {
                if packs.send(full).is_err() {
                    shared.fail("the pack storer stopped".into());
                }
            }
            Err(e) => shared.fail(e.to_string()),
        }
    }
}

/// Stores full packs as the workers finish them (each storer thread one at a time). A cancelled
/// writer's full packs are still stored: they are complete, and the next backup reuses them.
fn run_storer(shared: &Shared, packs: &Mutex<Receiver<PackBuilder>>) {
    loop {
        let pack = match lock(packs).recv() {
            Ok(pack) => pack,
            Err(_) => return,
        };
        if shared.failed.load(Ordering::Relaxed) {
            continue;
        }
        if let Err(e) = shared.store_pack(pack) {
            shared.fail(e.to_string());
        }
    }
}

/// Room for a full pack plus the largest blob, so the buffer never reallocates.
fn pack_capacity(pack_size: usize) -> usize {
    pack_size + MAX_BLOB_SIZE.min(4 << 20)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read_lock<T>(rw: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    rw.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock<T>(rw: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    rw.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}
