//! The limits a statement runs within, through `run_read_only_sql` on a project session over
//! an empty data dir (`generate_series` makes the rows): each bomb is refused before it
//! allocates, cut short by the byte cap, or cancelled at the time limit, never run to its size.

use std::time::Duration;

use sextant_ingest::layout::DataDir;
use sextant_query::QueryError;
use sextant_query::result_bytes::batch_bytes;
use sextant_query::sql::{
    DEFAULT_MAX_RESULT_BYTES, SqlLimits, SqlOutput, Truncation, run_read_only_sql,
};
use sextant_query::sql_context::project_context;

/// What `/api/sql` allows by default.
fn user_limits() -> SqlLimits {
    SqlLimits::rows(1_000_000).with_max_bytes(DEFAULT_MAX_RESULT_BYTES)
}

/// Runs `sql` in a fresh session of a project with no data.
fn run(sql: &str, limits: SqlLimits) -> Result<SqlOutput, QueryError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = DataDir::open(dir.path()).expect("open data dir");
    runtime.block_on(async {
        let session = project_context(&data_dir, "alpha").await?;
        run_read_only_sql(&session, sql, limits).await
    })
}

/// The message of the limit `sql` is refused by.
fn refusal(sql: &str, limits: SqlLimits) -> String {
    match run(sql, limits) {
        Err(QueryError::LimitExceeded(message)) => message,
        other => panic!("{sql}: expected a limit refusal, got {other:?}"),
    }
}

fn assert_contains(text: &str, expected: &str) {
    assert!(
        text.contains(expected),
        "{text:?} should contain {expected:?}"
    );
}

#[test]
fn a_range_of_two_billion_is_refused_before_it_is_built() {
    let message = refusal("SELECT cardinality(range(0, 2000000000))", user_limits());
    assert_contains(
        &message,
        "range(…) would build up to 14.9 GiB for 1 row at once",
    );
    assert_contains(
        &message,
        "more than the 256.0 MiB one function call may build",
    );

    let message = refusal(
        "SELECT generate_series(TIMESTAMP '2000-01-01', TIMESTAMP '2100-01-01', INTERVAL '1 second')",
        user_limits(),
    );
    assert_contains(&message, "generate_series(…) would build up to");

    // Small ranges are computed as before.
    let output = run("SELECT cardinality(range(0, 1000)) AS n", user_limits()).expect("runs");
    assert_eq!(output.row_count, 1);
}

#[test]
fn functions_sized_by_an_argument_are_refused_past_the_limit() {
    for (sql, function) in [
        // A size per row: the whole batch (8192 rows) is counted before the call.
        (
            "SELECT repeat('x', value * 1000000) FROM generate_series(1, 100000)",
            "repeat",
        ),
        ("SELECT lpad('x', 2000000000)", "lpad"),
        ("SELECT array_repeat(1, 2000000000)", "array_repeat"),
        ("SELECT array_resize([1], 2000000000)", "array_resize"),
        (
            "SELECT replace(repeat('a', 100000), 'a', repeat('b', 10000))",
            "replace",
        ),
        (
            "SELECT regexp_replace(repeat('a', 100000), 'a', repeat('b', 10000), 'g')",
            "regexp_replace",
        ),
    ] {
        let message = refusal(sql, user_limits());
        assert_contains(&message, &format!("{function}(…) would build up to"));
    }
}

#[test]
fn a_big_constant_copied_into_every_row_is_refused() {
    // DataFusion computes `repeat('x', 1000000)` while planning: a 1 MB constant that each
    // batch of 8192 rows would copy.
    let message = refusal(
        "SELECT repeat('x', 1000000) FROM generate_series(1, 100000)",
        user_limits(),
    );
    assert_contains(
        &message,
        "would be copied into each of up to 8192 rows at once",
    );

    // Over one row it is one value, answered.
    let output = run("SELECT repeat('x', 1000000) AS s", user_limits()).expect("runs");
    assert_eq!((output.row_count, output.truncated), (1, None));
}

#[test]
fn the_byte_cap_keeps_the_rows_that_fit_and_sets_truncated() {
    let cap = 1024 * 1024;
    let output = run(
        "SELECT value, repeat('x', 1000) AS s FROM generate_series(1, 10000)",
        SqlLimits::rows(1_000_000).with_max_bytes(cap),
    )
    .expect("runs");
    assert_eq!(output.truncated, Some(Truncation::Bytes));
    assert!(
        output.row_count > 900 && output.row_count < 1100,
        "about 1 MiB of 1 KB rows, not {}",
        output.row_count
    );
    let bytes: usize = output.batches.iter().map(batch_bytes).sum();
    assert!(bytes <= cap, "{bytes} bytes kept");

    let output = run(
        "SELECT value FROM generate_series(1, 10)",
        SqlLimits::rows(3).with_max_bytes(cap),
    )
    .expect("runs");
    assert_eq!(
        (output.row_count, output.truncated),
        (3, Some(Truncation::Rows))
    );
}

#[test]
fn a_cross_join_that_cannot_finish_is_cancelled_at_the_time_limit() {
    // 10^12 pairs: no machine finishes them, so the time limit is what ends the query.
    let message = refusal(
        "SELECT count(*) FROM generate_series(1, 1000000) a, generate_series(1, 1000000) b",
        user_limits().with_time_limit(Duration::from_millis(300)),
    );
    assert_contains(&message, "query ran longer than 0.3 s and was cancelled");
}
