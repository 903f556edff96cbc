//! Slots for users' SQL (`/api/sql`, the console, datasets made from SQL): at most so many
//! statements run at once per project and overall; a request waits a bounded time for a
//! slot, then gets 503 with `Retry-After`. Also the limits each statement runs within.
//!
//! A request takes its project's slot first, then one of the server's, so requests queued
//! behind a busy project hold none of the server's slots while they wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sextant_query::sql::{DEFAULT_MAX_RESULT_BYTES, QUERY_TIME_LIMIT, SqlLimits};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::respond::api_error::ApiError;

/// The limits on users' SQL (`[query]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlSettings {
    /// Bytes of an answer (as Arrow holds its rows); more are cut off, `truncated`.
    pub max_result_bytes: usize,
    /// Longest a statement may run.
    pub time_limit: Duration,
    /// Statements running at once over all projects.
    pub max_concurrent: usize,
    /// Statements running at once for one project.
    pub max_concurrent_per_project: usize,
    /// How long a statement waits for a slot before it is refused.
    pub queue_wait: Duration,
}

impl Default for SqlSettings {
    fn default() -> SqlSettings {
        SqlSettings {
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
            time_limit: QUERY_TIME_LIMIT,
            max_concurrent: 8,
            max_concurrent_per_project: 4,
            queue_wait: Duration::from_secs(2),
        }
    }
}

impl SqlSettings {
    /// A user's statement answering at most `max_rows` rows.
    pub fn limits(&self, max_rows: usize) -> SqlLimits {
        SqlLimits::rows(max_rows)
            .with_max_bytes(self.max_result_bytes)
            .with_time_limit(self.time_limit)
    }
}

/// The server's and each project's slots.
#[derive(Debug)]
pub struct QuerySlots {
    settings: SqlSettings,
    overall: Arc<Semaphore>,
    per_project: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A statement's place: held while it runs, given back when dropped.
#[derive(Debug)]
pub struct QuerySlot {
    _project: OwnedSemaphorePermit,
    _overall: OwnedSemaphorePermit,
}

/// No slot came free within the wait.
#[derive(Debug)]
pub struct QueriesBusy {
    message: String,
    retry_after_secs: u64,
}

impl QuerySlots {
    pub fn new(settings: SqlSettings) -> QuerySlots {
        QuerySlots {
            overall: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            per_project: Mutex::new(HashMap::new()),
            settings,
        }
    }

    pub fn settings(&self) -> &SqlSettings {
        &self.settings
    }

    /// Waits up to the queue wait for `project_id`'s slot and then the server's.
    pub async fn acquire(&self, project_id: &str) -> Result<QuerySlot, QueriesBusy> {
        let deadline = tokio::time::Instant::now() + self.settings.queue_wait;
        let project = self.project_semaphore(project_id);
        let project = tokio::time::timeout_at(deadline, project.acquire_owned())
            .await
            .map_err(|_| {
                self.busy(format!(
                    "this project already runs {} SQL queries, the most at once",
                    self.settings.max_concurrent_per_project
                ))
            })?
            .map_err(|_| self.busy("the server is shutting down".into()))?;
        let overall = tokio::time::timeout_at(deadline, self.overall.clone().acquire_owned())
            .await
            .map_err(|_| {
                self.busy(format!(
                    "the server already runs {} SQL queries, the most at once",
                    self.settings.max_concurrent
                ))
            })?
            .map_err(|_| self.busy("the server is shutting down".into()))?;
        Ok(QuerySlot {
            _project: project,
            _overall: overall,
        })
    }

    /// `project_id`'s slots (made on first use).
    pub fn project_semaphore(&self, project_id: &str) -> Arc<Semaphore> {
        let mut per_project = self
            .per_project
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        per_project
            .entry(project_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Semaphore::new(
                    self.settings.max_concurrent_per_project.max(1),
                ))
            })
            .clone()
    }

    /// The server's slots.
    pub fn overall_semaphore(&self) -> Arc<Semaphore> {
        self.overall.clone()
    }

    fn busy(&self, why: String) -> QueriesBusy {
        let retry_after_secs = self.settings.queue_wait.as_secs_f64().ceil().max(1.0) as u64;
        QueriesBusy {
            message: format!("{why}; retry after {retry_after_secs} s"),
            retry_after_secs,
        }
    }
}

impl QueriesBusy {
    /// The refusal as an error (503), for a caller that renders it itself; add
    /// [`QueriesBusy::retry_after`] to its response.
    pub fn error(&self) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "overloaded",
            message: self.message.clone(),
        }
    }

    /// `response` with the `Retry-After` header.
    pub fn retry_after(&self, mut response: Response) -> Response {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        response
    }
}

impl IntoResponse for QueriesBusy {
    fn into_response(self) -> Response {
        self.retry_after(self.error().into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(per_project: usize, overall: usize) -> QuerySlots {
        QuerySlots::new(SqlSettings {
            max_concurrent: overall,
            max_concurrent_per_project: per_project,
            queue_wait: Duration::from_millis(1),
            ..SqlSettings::default()
        })
    }

    #[tokio::test]
    async fn a_busy_project_does_not_hold_up_another() {
        let slots = slots(1, 2);
        let _first = slots.acquire("alpha").await.expect("alpha's slot");
        let busy = slots.acquire("alpha").await.expect_err("alpha is full");
        assert!(busy.message.contains("this project"), "{}", busy.message);
        assert_eq!(busy.retry_after_secs, 1);
        let _other = slots.acquire("beta").await.expect("beta's slot");
        let busy = slots
            .acquire("gamma")
            .await
            .expect_err("the server is full");
        assert!(busy.message.contains("the server"), "{}", busy.message);
    }

    #[tokio::test]
    async fn a_slot_is_given_back_when_dropped() {
        let slots = slots(1, 1);
        drop(slots.acquire("alpha").await.expect("first"));
        slots.acquire("alpha").await.expect("again");
    }
}
