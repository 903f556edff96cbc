//! Stored eval runs: the list (newest first, per suite when asked) and one run's report.

use sextant_meta::MetadataStore;
pub use sextant_meta::eval_runs::StoredRun;

use crate::error::{EvalError, Result};

/// The project's newest runs (of one suite when given), newest first.
pub fn list_runs(
    store: &MetadataStore,
    project_id: &str,
    suite: Option<&str>,
    limit: usize,
) -> Result<Vec<StoredRun>> {
    Ok(store.eval_runs().list(project_id, suite, limit)?)
}

/// One run of the project.
pub fn load_run(store: &MetadataStore, project_id: &str, id: i64) -> Result<StoredRun> {
    store
        .eval_runs()
        .get(project_id, id)?
        .ok_or_else(|| EvalError::NotFound(format!("no eval run {id}")))
}
