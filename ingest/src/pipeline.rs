//! The ingest pipeline: WAL group commit, the in-memory buffer, and the flusher.
//!
//! Data flow:
//!
//! ```text
//! request ─ normalize ─► WAL thread: append, fsync (group commit) ─► ack to client
//!                                   └─► buffer of rows ─► flusher thread (every ~1 s or on size):
//!                                        rotate WAL; per partition: stage Parquet of spans,
//!                                        logs and metrics, commit the index (spans, logs), publish the
//!                                        Parquet files; write checkpoint; delete sealed WAL
//!                                        segments
//! ```
//!
//! Invariants:
//! - a request is acknowledged only after its WAL record is fsynced;
//! - the WAL thread owns both the log and the buffer, so a rotation hands the flusher
//!   exactly the rows of the sealed segments, no more, no less;
//! - memory is bounded: past `max_pending_bytes` of unflushed rows, or a full command
//!   queue, requests are refused as overloaded (HTTP 503 + `Retry-After`).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::checkpoint::{Checkpoint, write_checkpoint};
use crate::error::{IngestError, Result};
use crate::index::PartitionIndexWriter;
use crate::layout::{DataDir, PartitionKey};
use crate::normalize::normalize_export;
use crate::normalized_rows::NormalizedRows;
use crate::parquet_writer::write_table_temp;
use crate::recovery::recover;
use crate::redact::Redactor;
use crate::redact::otlp::redact_request;
use crate::row_observer::{RowObserver, tool_rows};
use crate::table::Table;
use crate::time_window::{TimeWindow, drop_outside_window};
use crate::wal::{WalWriter, remove_segments_through};
use crate::wal_record::{ExportRequest, encode_record};

/// Tuning of the pipeline. The defaults suit a laptop or a 2-core server.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Unflushed row bytes past which new requests are refused with 503.
    pub max_pending_bytes: usize,
    /// Buffered row bytes that trigger a flush before the interval ends.
    pub flush_bytes: usize,
    /// Longest time a row waits in memory before it is flushed (and queryable).
    pub flush_interval: Duration,
    /// Requests waiting for the WAL thread past which new requests are refused.
    pub queue_depth: usize,
    /// Items dated outside it are rejected (`partial_success`); the server's default is
    /// [`TimeWindow::server_default`], a library pipeline's unbounded.
    pub time_window: TimeWindow,
    /// Replaces credentials in every span and log text before the WAL (`crate::redact`);
    /// `None` stores text as sent (only when the operator turns redaction off).
    pub redactor: Option<Arc<Redactor>>,
    /// Shown the tool rows of each acknowledged request (the server's policies).
    pub observer: Option<RowObserver>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_pending_bytes: 1024 * 1024 * 1024,
            flush_bytes: 128 * 1024 * 1024,
            flush_interval: Duration::from_millis(1000),
            queue_depth: 1024,
            time_window: TimeWindow::UNBOUNDED,
            redactor: Some(Arc::new(Redactor::built_in())),
            observer: None,
        }
    }
}

/// What an accepted export produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestAck {
    /// Spans, log records or metric data points, by the request's signal.
    pub accepted: usize,
    /// Items refused (dated outside the time window), for OTLP's `partial_success`.
    pub rejected: usize,
    /// Why, when `rejected > 0`.
    pub rejection_message: Option<String>,
}

/// Counters exposed for `/metrics` and benchmarks.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub spans_acknowledged: AtomicU64,
    pub log_records_acknowledged: AtomicU64,
    pub metric_points_acknowledged: AtomicU64,
    pub requests_refused_overloaded: AtomicU64,
    pub flushes: AtomicU64,
    pub parquet_bytes_written: AtomicU64,
    pub spans_flushed: AtomicU64,
    /// Secrets replaced by a `[REDACTED:<kind>]` marker before they were logged.
    pub secrets_redacted: AtomicU64,
}

/// Answers one export request once its WAL record is durable (or failed).
type AckSender = tokio::sync::oneshot::Sender<std::result::Result<(), String>>;
/// An appended request waiting for the batch's fsync: its rows, reserved bytes and answer.
type PendingAck = (NormalizedRows, usize, AckSender);

enum WalCommand {
    Append {
        record: Vec<u8>,
        rows: NormalizedRows,
        /// Bytes reserved in `pending_bytes`; released here if the append fails, since the
        /// request may have been cancelled by then.
        bytes: usize,
        done: AckSender,
    },
    Rotate {
        done: Sender<io::Result<(u64, NormalizedRows)>>,
    },
    Stop,
}

enum FlusherCommand {
    FlushNow,
    /// Flush, then answer: everything acknowledged before the call is queryable after it.
    FlushAndNotify {
        done: Sender<Result<()>>,
    },
    Stop {
        done: Sender<()>,
    },
}

struct Shared {
    data_dir: DataDir,
    config: PipelineConfig,
    /// Bytes of rows accepted but not yet flushed (queued, buffered or being flushed).
    pending_bytes: AtomicUsize,
    accepting: AtomicBool,
    stats: PipelineStats,
}

/// The write path of one data directory. Cheap to share behind an `Arc`.
pub struct IngestPipeline {
    shared: Arc<Shared>,
    wal_commands: SyncSender<WalCommand>,
    flusher_commands: Sender<FlusherCommand>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl IngestPipeline {
    /// Recovers the data directory (undoing interrupted flushes, replaying the WAL) and starts
    /// the WAL and flusher threads.
    pub fn open(data_dir: DataDir, config: PipelineConfig) -> Result<IngestPipeline> {
        let recovered = recover(&data_dir)?;
        let replayed_bytes = recovered.rows.approx_bytes();
        let replayed_rows = recovered.rows.len();
        let wal = WalWriter::create(&data_dir.wal_dir(), recovered.next_segment)?;
        let shared = Arc::new(Shared {
            data_dir,
            config: config.clone(),
            pending_bytes: AtomicUsize::new(replayed_bytes),
            accepting: AtomicBool::new(true),
            stats: PipelineStats::default(),
        });
        let (wal_commands, wal_receiver) = mpsc::sync_channel(config.queue_depth);
        let (flusher_commands, flusher_receiver) = mpsc::channel();

        let wal_thread = {
            let shared = shared.clone();
            let flusher_commands = flusher_commands.clone();
            let buffer = recovered.rows;
            std::thread::Builder::new()
                .name("sextant-wal".into())
                .spawn(move || {
                    abort_on_panic("wal", || {
                        run_wal_thread(wal, wal_receiver, buffer, &shared, &flusher_commands)
                    })
                })?
        };
        let flusher_thread = {
            let shared = shared.clone();
            let wal_commands = wal_commands.clone();
            std::thread::Builder::new()
                .name("sextant-flusher".into())
                .spawn(move || {
                    abort_on_panic("flusher", || {
                        run_flusher_thread(flusher_receiver, &wal_commands, &shared)
                    })
                })?
        };
        if replayed_rows > 0 {
            tracing::info!(rows = replayed_rows, "replayed write-ahead log");
            let _ = flusher_commands.send(FlusherCommand::FlushNow);
        }
        Ok(IngestPipeline {
            shared,
            wal_commands,
            flusher_commands,
            threads: Mutex::new(vec![wal_thread, flusher_thread]),
        })
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.shared.data_dir
    }

    pub fn stats(&self) -> &PipelineStats {
        &self.shared.stats
    }

    /// Bytes of accepted rows not yet flushed.
    pub fn pending_bytes(&self) -> usize {
        self.shared.pending_bytes.load(Ordering::Relaxed)
    }

    /// Normalizes and durably logs a traces export request. Returns once the WAL is fsynced.
    pub async fn ingest_traces(
        &self,
        project_id: &str,
        request: ExportTraceServiceRequest,
    ) -> Result<IngestAck> {
        self.ingest(project_id, ExportRequest::Traces(request))
            .await
    }

    /// Normalizes and durably logs a logs export request. Returns once the WAL is fsynced.
    pub async fn ingest_logs(
        &self,
        project_id: &str,
        request: ExportLogsServiceRequest,
    ) -> Result<IngestAck> {
        self.ingest(project_id, ExportRequest::Logs(request)).await
    }

    /// Normalizes and durably logs a metrics export request. Returns once the WAL is fsynced.
    pub async fn ingest_metrics(
        &self,
        project_id: &str,
        request: ExportMetricsServiceRequest,
    ) -> Result<IngestAck> {
        self.ingest(project_id, ExportRequest::Metrics(request))
            .await
    }

    /// Normalizes and durably logs an export request of any signal.
    pub async fn ingest(&self, project_id: &str, mut request: ExportRequest) -> Result<IngestAck> {
        if !self.shared.accepting.load(Ordering::Acquire) {
            return Err(IngestError::ShuttingDown);
        }
        let project = project_id.to_string();
        let window = self.shared.config.time_window;
        let redactor = self.shared.config.redactor.clone();
        let (record, rows, rejection, redacted) =
            tokio::task::spawn_blocking(move || -> Result<_> {
                // Out-of-window items leave the request before it is logged: the WAL record
                // holds only what is accepted, so a replay accepts the same items.
                let rejection = drop_outside_window(&mut request, &window, now_ns());
                // Secrets leave it too: neither the WAL nor what is built from it sees them.
                let redacted = redactor
                    .map(|redactor| redact_request(&mut request, &redactor))
                    .unwrap_or_default();
                let rows = normalize_export(&project, &request)?;
                let record = encode_record(&project, &request);
                Ok((record, rows, rejection, redacted))
            })
            .await
            .map_err(|error| IngestError::Internal(format!("normalize task failed: {error}")))??;
        if redacted.total() > 0 {
            self.shared
                .stats
                .secrets_redacted
                .fetch_add(redacted.total(), Ordering::Relaxed);
            tracing::debug!(project = project_id, secrets = ?redacted.by_kind, "secrets redacted");
        }
        let rejected = rejection.rejected;
        let rejection_message = rejection.message(&window);
        if rows.is_empty() {
            return Ok(IngestAck {
                accepted: 0,
                rejected,
                rejection_message,
            });
        }
        let counts = (rows.spans.len(), rows.logs.len(), rows.metrics.len());
        let observed = self
            .shared
            .config
            .observer
            .as_ref()
            .map(|observer| (observer.clone(), tool_rows(&rows)))
            .filter(|(_, rows)| !rows.is_empty());
        let bytes = rows.approx_bytes();
        self.reserve(bytes)?;

        let (done, acknowledged) = tokio::sync::oneshot::channel();
        let command = WalCommand::Append {
            record,
            rows,
            bytes,
            done,
        };
        if let Err(error) = self.wal_commands.try_send(command) {
            self.release(bytes);
            return Err(match error {
                TrySendError::Full(_) => self.overloaded("write-ahead log queue is full"),
                TrySendError::Disconnected(_) => IngestError::ShuttingDown,
            });
        }
        match acknowledged.await {
            Ok(Ok(())) => {
                if let Some((observer, rows)) = observed {
                    observer.0.acknowledged(project_id, rows);
                }
                let stats = &self.shared.stats;
                let (spans, logs, metrics) = counts;
                stats
                    .spans_acknowledged
                    .fetch_add(spans as u64, Ordering::Relaxed);
                stats
                    .log_records_acknowledged
                    .fetch_add(logs as u64, Ordering::Relaxed);
                stats
                    .metric_points_acknowledged
                    .fetch_add(metrics as u64, Ordering::Relaxed);
                Ok(IngestAck {
                    accepted: spans + logs + metrics,
                    rejected,
                    rejection_message,
                })
            }
            // The WAL thread released the reservation. Retryable: the disk may recover.
            Ok(Err(message)) => Err(IngestError::StorageUnavailable(message)),
            Err(_) => {
                self.release(bytes);
                Err(IngestError::ShuttingDown)
            }
        }
    }

    fn reserve(&self, bytes: usize) -> Result<()> {
        let limit = self.shared.config.max_pending_bytes;
        let previous = self.shared.pending_bytes.fetch_add(bytes, Ordering::AcqRel);
        // A single request larger than the whole budget is let through when nothing is
        // pending, so an oversized-but-valid request cannot be refused forever.
        if previous > 0 && previous + bytes > limit {
            self.release(bytes);
            let _ = self.flusher_commands.send(FlusherCommand::FlushNow);
            return Err(self.overloaded("too much data waiting to be flushed"));
        }
        Ok(())
    }

    fn release(&self, bytes: usize) {
        self.shared.pending_bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    fn overloaded(&self, reason: &'static str) -> IngestError {
        self.shared
            .stats
            .requests_refused_overloaded
            .fetch_add(1, Ordering::Relaxed);
        IngestError::Overloaded {
            reason,
            retry_after_secs: 1,
        }
    }

    /// Flushes everything acknowledged so far to Parquet and the index, and waits for it.
    pub fn flush_and_wait(&self) -> Result<()> {
        let (done, flushed) = mpsc::channel();
        self.flusher_commands
            .send(FlusherCommand::FlushAndNotify { done })
            .map_err(|_| IngestError::ShuttingDown)?;
        flushed.recv().map_err(|_| IngestError::ShuttingDown)?
    }

    /// Stops accepting, flushes everything buffered, and stops the threads.
    pub fn shutdown(&self) {
        self.shared.accepting.store(false, Ordering::Release);
        let (done, flushed) = mpsc::channel();
        if self
            .flusher_commands
            .send(FlusherCommand::Stop { done })
            .is_ok()
        {
            let _ = flushed.recv();
        }
        let _ = self.wal_commands.send(WalCommand::Stop);
        let threads = std::mem::take(
            &mut *self
                .threads
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        );
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for IngestPipeline {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A panic in the WAL or flusher thread would leave a server that acknowledges but never
/// flushes: abort instead, and let restart recovery replay the WAL.
fn abort_on_panic(thread: &'static str, body: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_err() {
        tracing::error!(
            thread,
            "ingest thread panicked; aborting so recovery can replay the write-ahead log"
        );
        std::process::abort();
    }
}

/// Appends in arrival order, fsyncs once per batch of queued requests, then acknowledges.
fn run_wal_thread(
    wal: WalWriter,
    commands: Receiver<WalCommand>,
    buffer: NormalizedRows,
    shared: &Shared,
    flusher: &Sender<FlusherCommand>,
) {
    const MAX_BATCH_COMMANDS: usize = 1024;
    let mut log = WalThreadState {
        buffered_bytes: buffer.approx_bytes(),
        wal,
        buffer,
        waiting: Vec::new(),
        append_error: None,
        poisoned: false,
        shared,
    };
    while let Ok(first) = commands.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_COMMANDS {
            match commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        for command in batch {
            match command {
                WalCommand::Append {
                    record,
                    rows,
                    bytes,
                    done,
                } => log.append(&record, (rows, bytes, done)),
                WalCommand::Rotate { done } => {
                    log.commit_waiting();
                    let _ = done.send(log.rotate());
                }
                WalCommand::Stop => {
                    log.commit_waiting();
                    return;
                }
            }
        }
        log.commit_waiting();
        if log.buffered_bytes >= shared.config.flush_bytes {
            let _ = flusher.send(FlusherCommand::FlushNow);
        }
    }
}

/// What the WAL thread owns: the log, the rows it made durable, and the requests waiting
/// for the next fsync.
struct WalThreadState<'a> {
    wal: WalWriter,
    buffer: NormalizedRows,
    buffered_bytes: usize,
    waiting: Vec<PendingAck>,
    /// The first append error of the current batch; the whole batch fails with it.
    append_error: Option<io::Error>,
    /// Set when unsynced bytes could not be cut off the segment: nothing may be appended
    /// after them until they are.
    poisoned: bool,
    shared: &'a Shared,
}

impl WalThreadState<'_> {
    fn append(&mut self, record: &[u8], pending: PendingAck) {
        if self.poisoned && self.wal.discard_unsynced().is_ok() {
            tracing::info!(
                segment = self.wal.segment(),
                "write-ahead log writable again"
            );
            self.poisoned = false;
        }
        if self.poisoned {
            self.append_error
                .get_or_insert_with(|| io::Error::other("write-ahead log is not writable"));
        } else if self.append_error.is_none()
            && let Err(error) = self.wal.append(record)
        {
            self.append_error = Some(error);
        }
        self.waiting.push(pending);
    }

    /// Seals the segment and hands over the rows it holds.
    fn rotate(&mut self) -> io::Result<(u64, NormalizedRows)> {
        if self.poisoned {
            return Err(io::Error::other("write-ahead log is not writable"));
        }
        let sealed = self.wal.rotate()?;
        self.buffered_bytes = 0;
        Ok((sealed, std::mem::take(&mut self.buffer)))
    }

    /// Fsyncs the appended records and answers their requests; on success their rows join
    /// the buffer.
    fn commit_waiting(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        let outcome = match self.append_error.take() {
            Some(error) => Err(error),
            None => self.wal.sync(),
        };
        match outcome {
            Ok(()) => {
                for (rows, bytes, done) in self.waiting.drain(..) {
                    self.buffered_bytes += bytes;
                    self.buffer.append(rows);
                    let _ = done.send(Ok(()));
                }
            }
            Err(error) => {
                let segment = self.wal.segment();
                tracing::error!(%error, segment, "write-ahead log append failed; the batch is refused");
                // Cut the failed records off, so no torn record sits in front of records
                // acknowledged later (replay stops at the first torn record).
                if let Err(discard_error) = self.wal.discard_unsynced() {
                    tracing::error!(%discard_error, segment, "cannot cut the write-ahead log back; refusing writes until it can");
                    self.poisoned = true;
                }
                for (_, bytes, done) in self.waiting.drain(..) {
                    self.shared.pending_bytes.fetch_sub(bytes, Ordering::AcqRel);
                    let _ = done.send(Err(error.to_string()));
                }
            }
        }
    }
}

/// Flushes on a timer, on request, and once more at stop.
fn run_flusher_thread(
    commands: Receiver<FlusherCommand>,
    wal: &SyncSender<WalCommand>,
    shared: &Shared,
) {
    let mut flusher = Flusher::default();
    loop {
        let mut stop = None;
        let mut waiting = Vec::new();
        let mut handle = |command| match command {
            FlusherCommand::FlushNow => {}
            FlusherCommand::FlushAndNotify { done } => waiting.push(done),
            FlusherCommand::Stop { done } => stop = Some(done),
        };
        match commands.recv_timeout(shared.config.flush_interval) {
            Ok(command) => handle(command),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Many requests may have asked for a flush meanwhile: one flush answers them all.
        while let Ok(command) = commands.try_recv() {
            handle(command);
        }
        let has_work = shared.pending_bytes.load(Ordering::Acquire) > 0
            || stop.is_some()
            || !waiting.is_empty();
        let outcome = if has_work {
            flusher.flush(wal, shared)
        } else {
            Ok(())
        };
        if let Err(error) = &outcome {
            tracing::error!(%error, "flush failed; rows stay in the write-ahead log and will be retried");
        }
        for done in waiting {
            let _ = done.send(match &outcome {
                Ok(()) => Ok(()),
                Err(error) => Err(IngestError::Internal(format!("flush failed: {error}"))),
            });
        }
        if let Some(done) = stop {
            let _ = done.send(());
            return;
        }
    }
}

/// The rows of sealed WAL segments, grouped by partition and sorted by time.
struct SealedBatch {
    /// The last sealed WAL segment; also the id of the files this batch writes.
    flush_id: u64,
    partitions: BTreeMap<PartitionKey, NormalizedRows>,
    spans: usize,
    bytes: usize,
}

impl SealedBatch {
    fn new(flush_id: u64, rows: NormalizedRows) -> SealedBatch {
        let spans = rows.spans.len();
        let bytes = rows.approx_bytes();
        SealedBatch {
            flush_id,
            partitions: rows.into_partitions(),
            spans,
            bytes,
        }
    }
}

/// State kept by the flusher between flushes.
#[derive(Default)]
struct Flusher {
    /// A sealed batch whose flush failed, retried before anything newer.
    retry: Option<SealedBatch>,
    index_writers: HashMap<PartitionKey, (PartitionIndexWriter, u64)>,
    flush_count: u64,
}

impl Flusher {
    const IDLE_WRITER_FLUSHES: u64 = 60;

    fn flush(&mut self, wal: &SyncSender<WalCommand>, shared: &Shared) -> Result<()> {
        let batch = match self.retry.take() {
            Some(batch) => batch,
            None => {
                let (done, rotated) = mpsc::channel();
                wal.send(WalCommand::Rotate { done })
                    .map_err(|_| IngestError::ShuttingDown)?;
                let (sealed, rows) = rotated.recv().map_err(|_| IngestError::ShuttingDown)??;
                SealedBatch::new(sealed, rows)
            }
        };
        match self.write_batch(&batch, shared) {
            Ok(()) => {
                shared
                    .pending_bytes
                    .fetch_sub(batch.bytes, Ordering::AcqRel);
                shared.stats.flushes.fetch_add(1, Ordering::Relaxed);
                shared
                    .stats
                    .spans_flushed
                    .fetch_add(batch.spans as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                // A writer that failed may be dead (tantivy kills it on a failed commit),
                // and its text dedup already counts this batch's text as indexed: start
                // the retry from fresh writers.
                self.index_writers.clear();
                self.retry = Some(batch);
                Err(error)
            }
        }
    }

    /// Writes one sealed batch; idempotent, so a failed attempt can simply be repeated.
    fn write_batch(&mut self, batch: &SealedBatch, shared: &Shared) -> Result<()> {
        self.flush_count += 1;
        let flush_id = batch.flush_id;
        for (key, rows) in &batch.partitions {
            let mut staged = Vec::new();
            for table in Table::ALL {
                let path = shared.data_dir.parquet_file_path(table, key, flush_id);
                staged.extend(write_table_temp(&path, table, rows)?);
            }
            if !rows.spans.is_empty() || !rows.logs.is_empty() {
                let writer = self.index_writer(key, shared)?;
                writer.delete_file(flush_id);
                writer.add_file(flush_id, &rows.spans)?;
                writer.add_log_file(flush_id, &rows.logs)?;
                writer.commit()?;
            }
            // Published after the index commit: whatever SQL sees, search sees too.
            for file in staged {
                let written = file.bytes;
                file.publish()?;
                shared
                    .stats
                    .parquet_bytes_written
                    .fetch_add(written, Ordering::Relaxed);
            }
        }
        write_checkpoint(
            &shared.data_dir,
            Checkpoint {
                flushed_through_segment: flush_id,
            },
        )?;
        // The checkpoint committed the batch; cleanup that fails now is redone by the
        // next flush (and ignored by recovery), so it must not fail the batch.
        if let Err(error) = remove_segments_through(&shared.data_dir.wal_dir(), flush_id) {
            tracing::warn!(%error, flush_id, "cannot delete flushed wal segments yet");
        }
        let now = self.flush_count;
        self.index_writers
            .retain(|_, (_, last_used)| now - *last_used < Self::IDLE_WRITER_FLUSHES);
        Ok(())
    }

    fn index_writer(
        &mut self,
        key: &PartitionKey,
        shared: &Shared,
    ) -> Result<&mut PartitionIndexWriter> {
        const MAX_OPEN_WRITERS: usize = 8;
        if !self.index_writers.contains_key(key) && self.index_writers.len() >= MAX_OPEN_WRITERS {
            let least_recent = self
                .index_writers
                .iter()
                .min_by_key(|(_, (_, last_used))| *last_used)
                .map(|(key, _)| key.clone());
            if let Some(least_recent) = least_recent {
                self.index_writers.remove(&least_recent);
            }
        }
        let now = self.flush_count;
        let entry = match self.index_writers.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let writer = PartitionIndexWriter::open(&shared.data_dir.index_partition_dir(key))?;
                entry.insert((writer, now))
            }
        };
        entry.1 = now;
        Ok(&mut entry.0)
    }
}

/// The wall clock in Unix nanoseconds (the time window is relative to it).
fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}
