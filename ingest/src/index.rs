//! The full-text index: one tantivy index per partition whose documents address Parquet rows.
//!
//! A document's fast fields `table` (spans or logs), `file` (the flush id of the Parquet
//! file) and `row` (the row inside it) point at the span or log record, and `start_time` (a
//! log record's time) orders hits newest first. Text fields are indexed, not stored; the
//! `hit` field stores what a search hit shows ([`crate::stored_hit`]), so a search need not
//! read Parquet. Spans and log records of a partition share its index, so one query finds
//! a word whether an agent sent it as a span attribute or as a log event (Claude Code's
//! `tool_result`, Codex's `codex.user_prompt`), and one flush id undoes both.
//!
//! Agent loops resend the whole conversation on every LLM call; [`TextDedup`] makes each
//! distinct message (and system prompt) indexed once per conversation (session, else
//! trace), on the first span that carried it, so index size grows with new text, not
//! with conversation length². The same text in another conversation is indexed again,
//! so a search still finds every run that contains it.

use std::collections::HashSet;
use std::path::Path;

use tantivy::directory::MmapDirectory;
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer};
use tantivy::{Index, IndexSettings, IndexWriter, TantivyDocument, Term};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::Result;
use crate::log_row::CanonicalLog;
use crate::span::CanonicalSpan;
use crate::stored_hit::{log_hit_bytes, span_hit_bytes};
use crate::table::Table;
use crate::text_tokenizer::CjkAwareTokenizer;

/// Tokenizer for exact-value fields (`tool:bash`, `model:gpt-4o`): whole value, lowercased.
pub const KEYWORD_TOKENIZER: &str = "keyword_lower";

/// Memory budget of one partition's index writer.
const WRITER_MEMORY_BYTES: usize = 32 * 1024 * 1024;

/// The `table` fast field of a document whose row is in the `spans` table.
pub const SPANS_TABLE_CODE: u64 = 0;
/// The `table` fast field of a document whose row is in the `logs` table.
pub const LOGS_TABLE_CODE: u64 = 1;

/// Handles to the fields of the partition index schema.
#[derive(Debug, Clone, Copy)]
pub struct SpanIndexFields {
    /// A span's name, or a log record's event name.
    pub name: Field,
    pub input: Field,
    pub output: Field,
    pub system: Field,
    pub status_message: Field,
    pub error: Field,
    pub attributes: Field,
    pub tool: Field,
    pub model: Field,
    pub service: Field,
    pub agent: Field,
    pub session: Field,
    pub status: Field,
    pub span_type: Field,
    pub trace_id: Field,
    /// `span` or `log`, for queries like `kind:log`.
    pub kind: Field,
    /// A log record's body.
    pub body: Field,
    /// Which table the row is in ([`SPANS_TABLE_CODE`], [`LOGS_TABLE_CODE`]).
    pub table: Field,
    pub file: Field,
    pub row: Field,
    pub start_time: Field,
    /// Stored only: the hit's summary and the start of its texts ([`crate::stored_hit`]).
    /// Absent from indexes written before it existed.
    pub hit: Field,
}

impl SpanIndexFields {
    /// Fields searched when a query term names no field.
    pub fn default_search_fields(&self) -> Vec<Field> {
        vec![
            self.name,
            self.input,
            self.output,
            self.system,
            self.status_message,
            self.error,
            self.attributes,
            self.tool,
            self.model,
            self.body,
        ]
    }

    /// Fields whose text can be highlighted, with the stored column holding it, in the
    /// order a snippet is looked for, for rows of `table`.
    pub fn snippet_fields(table: Table) -> &'static [(FieldName, &'static str)] {
        match table {
            Table::Logs => &[
                (FieldName::Body, "body"),
                (FieldName::Attributes, "attributes"),
                (FieldName::Name, "event_name"),
            ],
            _ => &[
                (FieldName::Output, "output"),
                (FieldName::Input, "input"),
                (FieldName::StatusMessage, "status_message"),
                (FieldName::System, "system_prompt"),
                (FieldName::Name, "name"),
            ],
        }
    }

    /// The handle of a named text field.
    pub fn field(&self, name: FieldName) -> Field {
        match name {
            FieldName::Name => self.name,
            FieldName::Input => self.input,
            FieldName::Output => self.output,
            FieldName::System => self.system,
            FieldName::StatusMessage => self.status_message,
            FieldName::Attributes => self.attributes,
            FieldName::Body => self.body,
        }
    }
}

/// The text fields a snippet can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldName {
    Name,
    Input,
    Output,
    System,
    StatusMessage,
    Attributes,
    Body,
}

/// The index schema and its field handles.
pub fn span_index_schema() -> (Schema, SpanIndexFields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let keyword = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(KEYWORD_TOKENIZER)
            .set_index_option(IndexRecordOption::Basic),
    );
    let fields = SpanIndexFields {
        name: builder.add_text_field("name", text.clone()),
        input: builder.add_text_field("input", text.clone()),
        output: builder.add_text_field("output", text.clone()),
        system: builder.add_text_field("system", text.clone()),
        status_message: builder.add_text_field("status_message", text.clone()),
        error: builder.add_text_field("error", keyword.clone()),
        attributes: builder.add_text_field("attributes", text.clone()),
        tool: builder.add_text_field("tool", keyword.clone()),
        model: builder.add_text_field("model", keyword.clone()),
        service: builder.add_text_field("service", keyword.clone()),
        agent: builder.add_text_field("agent", keyword.clone()),
        session: builder.add_text_field("session", keyword.clone()),
        status: builder.add_text_field("status", keyword.clone()),
        span_type: builder.add_text_field("type", keyword.clone()),
        trace_id: builder.add_text_field("trace", keyword.clone()),
        kind: builder.add_text_field("kind", keyword),
        body: builder.add_text_field("body", text.clone()),
        table: builder.add_u64_field("table", tantivy::schema::FAST),
        file: builder.add_u64_field(
            "file",
            NumericOptions::default() | INDEXED | tantivy::schema::FAST,
        ),
        row: builder.add_u64_field("row", tantivy::schema::FAST),
        start_time: builder.add_i64_field("start_time", tantivy::schema::FAST),
        // Last, so the fields before it keep their ids in indexes written without it.
        hit: builder.add_bytes_field("hit", tantivy::schema::STORED),
    };
    (builder.build(), fields)
}

/// Opens a partition's index, creating it if absent, with Sextant's tokenizers registered.
/// An existing index keeps its own schema: one written before the `hit` field existed lacks
/// it (see [`stores_hits`]).
pub fn open_partition_index(dir: &Path) -> Result<Index> {
    std::fs::create_dir_all(dir)?;
    let directory = MmapDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
    let index = if Index::exists(&directory).map_err(tantivy::TantivyError::from)? {
        Index::open(directory)?
    } else {
        Index::create(directory, span_index_schema().0, index_settings())?
    };
    register_tokenizers(&index);
    Ok(index)
}

/// zstd for the doc store (the stored hits: summaries and text), in blocks big enough for
/// its dictionary to pay; one block is decompressed per hit read.
fn index_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(3),
        }),
        docstore_blocksize: 32 * 1024,
        ..IndexSettings::default()
    }
}

/// Whether documents of `index` store their hit (indexes written before that did not).
pub fn stores_hits(index: &Index) -> bool {
    index.schema().get_field("hit").is_ok()
}

/// Registers the keyword tokenizer and replaces `default` (the text fields' tokenizer) with
/// tantivy's default analyzer on a CJK-aware tokenizer: same words, plus CJK characters.
/// Writers and readers both call this, so the schema still says `default`.
pub fn register_tokenizers(index: &Index) {
    index.tokenizers().register(
        "default",
        TextAnalyzer::builder(CjkAwareTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .build(),
    );
    index.tokenizers().register(
        KEYWORD_TOKENIZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

/// Remembers which texts a partition has already indexed.
#[derive(Debug, Default)]
pub struct TextDedup {
    seen: HashSet<u64>,
}

impl TextDedup {
    /// Past this many remembered texts the set is cleared: memory stays bounded, at the
    /// cost of indexing some text a second time.
    const MAX_REMEMBERED: usize = 4_000_000;

    /// True the first time a text is offered within a conversation.
    pub fn first_time(&mut self, conversation: &str, text: &str) -> bool {
        if self.seen.len() >= Self::MAX_REMEMBERED {
            self.seen.clear();
        }
        let key = xxh3_64(conversation.as_bytes()) ^ xxh3_64(text.as_bytes()).rotate_left(1);
        self.seen.insert(key)
    }
}

/// Appends every string leaf of a JSON value to `out`, space separated.
fn collect_text_leaves(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::String(text) => {
            out.push_str(text);
            out.push(' ');
        }
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| collect_text_leaves(item, out))
        }
        serde_json::Value::Object(map) => {
            map.values().for_each(|item| collect_text_leaves(item, out))
        }
        serde_json::Value::Number(number) => {
            out.push_str(&number.to_string());
            out.push(' ');
        }
        serde_json::Value::Bool(_) | serde_json::Value::Null => {}
    }
}

/// The text of `input` not yet indexed in this conversation: new messages only for a
/// message list; tool arguments and plain text in full.
fn new_input_text(conversation: &str, input: &str, dedup: &mut TextDedup) -> String {
    let messages = match serde_json::from_str::<serde_json::Value>(input) {
        Ok(serde_json::Value::Array(messages))
            if messages.iter().all(|m| m.get("role").is_some()) =>
        {
            messages
        }
        _ => return input.to_string(),
    };
    let mut text = String::new();
    for message in &messages {
        if dedup.first_time(conversation, &message.to_string()) {
            collect_text_leaves(message, &mut text);
        }
    }
    text
}

/// Builds the index document of one span stored at `(file, row)`; with `store_hit`, it
/// stores its hit too.
pub fn span_document(
    fields: &SpanIndexFields,
    span: &CanonicalSpan,
    (file, row): (u64, u64),
    dedup: &mut TextDedup,
    store_hit: bool,
) -> TantivyDocument {
    let conversation = span.session_id.as_deref().unwrap_or(&span.trace_id);
    let mut document = TantivyDocument::default();
    document.add_text(fields.name, &span.name);
    let indexed_input = span
        .input
        .as_deref()
        .map(|input| new_input_text(conversation, input, dedup));
    if let Some(input) = &indexed_input {
        document.add_text(fields.input, input);
    }
    if let Some(output) = &span.output {
        document.add_text(fields.output, output);
    }
    let indexed_system = span
        .system_prompt
        .as_deref()
        .filter(|system_prompt| dedup.first_time(conversation, system_prompt));
    if let Some(system_prompt) = indexed_system {
        document.add_text(fields.system, system_prompt);
    }
    let optional_fields = [
        (fields.status_message, &span.status_message),
        (fields.error, &span.error_type),
        (fields.tool, &span.tool_name),
        (fields.service, &span.service_name),
        (fields.agent, &span.agent_name),
        (fields.session, &span.session_id),
    ];
    for (field, value) in optional_fields {
        if let Some(value) = value {
            document.add_text(field, value);
        }
    }
    for model in [&span.request_model, &span.response_model]
        .into_iter()
        .flatten()
    {
        document.add_text(fields.model, model);
    }
    if span.attributes.len() > 2 {
        document.add_text(fields.attributes, &span.attributes);
    }
    document.add_text(fields.status, span.status_code.as_str());
    document.add_text(fields.span_type, span.span_type.as_str());
    document.add_text(fields.trace_id, &span.trace_id);
    document.add_text(fields.kind, "span");
    document.add_u64(fields.table, SPANS_TABLE_CODE);
    document.add_u64(fields.file, file);
    document.add_u64(fields.row, row);
    document.add_i64(fields.start_time, span.start_time);
    if store_hit {
        let hit = span_hit_bytes(span, indexed_input.as_deref(), indexed_system);
        document.add_bytes(fields.hit, &hit);
    }
    document
}

/// The status word of a log record: `error` for failed tool results, API errors and
/// error-severity records, else `ok`.
fn log_status(log: &CanonicalLog) -> &'static str {
    log_status_word(log.success, log.severity_number, log.event_name.as_deref())
}

/// [`log_status`] from the stored columns `success`, `severity_number` and `event_name`.
pub fn log_status_word(
    success: Option<bool>,
    severity_number: i32,
    event_name: Option<&str>,
) -> &'static str {
    const SEVERITY_ERROR: i32 = 17;
    let failed = success == Some(false)
        || severity_number >= SEVERITY_ERROR
        || event_name.is_some_and(|name| name.ends_with("api_error") || name.ends_with(".error"));
    if failed { "error" } else { "ok" }
}

/// Builds the index document of one log record stored at `(file, row)` of the logs table;
/// with `store_hit`, it stores its hit too.
pub fn log_document(
    fields: &SpanIndexFields,
    log: &CanonicalLog,
    (file, row): (u64, u64),
    store_hit: bool,
) -> TantivyDocument {
    let mut document = TantivyDocument::default();
    let keyword_fields = [
        (fields.name, &log.event_name),
        (fields.tool, &log.tool_name),
        (fields.model, &log.model),
        (fields.service, &log.service_name),
        (fields.session, &log.session_id),
        (fields.trace_id, &log.trace_id),
    ];
    for (field, value) in keyword_fields {
        if let Some(value) = value {
            document.add_text(field, value);
        }
    }
    if let Some(body) = &log.body {
        document.add_text(fields.body, body);
    }
    let attributes_indexed = log.attributes.len() > 2;
    if attributes_indexed {
        document.add_text(fields.attributes, &log.attributes);
    }
    document.add_text(fields.status, log_status(log));
    document.add_text(fields.kind, "log");
    document.add_u64(fields.table, LOGS_TABLE_CODE);
    document.add_u64(fields.file, file);
    document.add_u64(fields.row, row);
    document.add_i64(fields.start_time, log.time);
    if store_hit {
        document.add_bytes(fields.hit, &log_hit_bytes(log, attributes_indexed));
    }
    document
}

/// An open writer on one partition's index.
pub struct PartitionIndexWriter {
    writer: IndexWriter,
    fields: SpanIndexFields,
    dedup: TextDedup,
    /// False for an index written before documents stored their hit.
    store_hits: bool,
}

impl PartitionIndexWriter {
    pub fn open(dir: &Path) -> Result<PartitionIndexWriter> {
        let index = open_partition_index(dir)?;
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        let (_, fields) = span_index_schema();
        Ok(PartitionIndexWriter {
            writer,
            fields,
            dedup: TextDedup::default(),
            store_hits: stores_hits(&index),
        })
    }

    /// Adds the spans of one Parquet file; `spans[i]` is row `i` of file `file`.
    pub fn add_file(&mut self, file: u64, spans: &[CanonicalSpan]) -> Result<()> {
        for (row, span) in spans.iter().enumerate() {
            let address = (file, row as u64);
            let document = span_document(
                &self.fields,
                span,
                address,
                &mut self.dedup,
                self.store_hits,
            );
            self.writer.add_document(document)?;
        }
        Ok(())
    }

    /// Adds the log records of one Parquet file; `logs[i]` is row `i` of file `file`.
    pub fn add_log_file(&mut self, file: u64, logs: &[CanonicalLog]) -> Result<()> {
        for (row, log) in logs.iter().enumerate() {
            let address = (file, row as u64);
            self.writer
                .add_document(log_document(&self.fields, log, address, self.store_hits))?;
        }
        Ok(())
    }

    /// Removes every document (span or log) of a flush (used to undo an interrupted flush).
    pub fn delete_file(&mut self, file: u64) {
        self.writer
            .delete_term(Term::from_field_u64(self.fields.file, file));
    }

    /// Makes added documents durable and visible to new searchers.
    pub fn commit(&mut self) -> Result<()> {
        self.writer.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resent_conversation_messages_are_indexed_once() {
        let mut dedup = TextDedup::default();
        let turn_one =
            r#"[{"role":"user","parts":[{"type":"text","content":"fix the flaky test"}]}]"#;
        let turn_two = r#"[{"role":"user","parts":[{"type":"text","content":"fix the flaky test"}]},{"role":"assistant","parts":[{"type":"text","content":"running cargo test"}]}]"#;
        assert!(new_input_text("s1", turn_one, &mut dedup).contains("flaky"));
        let second = new_input_text("s1", turn_two, &mut dedup);
        assert!(
            !second.contains("flaky"),
            "resent message indexed again: {second}"
        );
        assert!(second.contains("running cargo test"));
        let other_conversation = new_input_text("s2", turn_one, &mut dedup);
        assert!(
            other_conversation.contains("flaky"),
            "another run must stay findable"
        );
    }

    fn searchable_documents(dir: &Path) -> u64 {
        let index = open_partition_index(dir).expect("open");
        let reader = index.reader().expect("reader");
        reader.searcher().num_docs()
    }

    #[test]
    fn an_index_written_before_stored_hits_keeps_its_schema_and_takes_new_documents() {
        let span = CanonicalSpan {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "b7ad6b7169203331".into(),
            name: "execute_tool bash".into(),
            output: Some("all tests passed".into()),
            attributes: "{}".into(),
            ..CanonicalSpan::default()
        };
        let old = tempfile::tempdir().expect("tempdir");
        // The schema without its last field, `hit`: what partitions written before it hold.
        let mut builder = tantivy::schema::Schema::builder();
        for (_, entry) in span_index_schema().0.fields() {
            if entry.name() != "hit" {
                builder.add_field(entry.clone());
            }
        }
        Index::create_in_dir(old.path(), builder.build()).expect("old index");
        let mut writer = PartitionIndexWriter::open(old.path()).expect("opens the old index");
        assert!(!writer.store_hits);
        writer
            .add_file(7, std::slice::from_ref(&span))
            .expect("adds");
        writer.commit().expect("commits");
        assert_eq!(searchable_documents(old.path()), 1);

        let new = tempfile::tempdir().expect("tempdir");
        let mut writer = PartitionIndexWriter::open(new.path()).expect("creates");
        assert!(writer.store_hits);
        writer
            .add_file(7, std::slice::from_ref(&span))
            .expect("adds");
        writer.commit().expect("commits");
        assert_eq!(searchable_documents(new.path()), 1);
    }

    #[test]
    fn tool_payloads_are_indexed_in_full_every_time() {
        let mut dedup = TextDedup::default();
        assert_eq!(new_input_text("t", "ls -la", &mut dedup), "ls -la");
        assert_eq!(new_input_text("t", "ls -la", &mut dedup), "ls -la");
    }
}
