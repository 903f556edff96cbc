//! Datasets: named, versioned sets of examples in the metadata store, per project.
//!
//! An example is a recorded trace, with its [`Recording`] copied in when it is added, so
//! it survives retention and later edits of the data. Adding examples makes a new
//! version; version `n` holds every example added in versions `1..=n`, so a run that
//! records its version can always be reproduced. A trace already in the dataset is not
//! added twice. Examples may carry an [`Annotation`] given when they are added: an
//! expected outcome and a label (`critical`: a regression on it always fails the gate).

pub mod recording;
pub mod source;

use sextant_meta::MetadataStore;
pub use sextant_meta::datasets::{AddedVersion, DatasetSummary};
use sextant_meta::datasets::{LoadedVersion, NewVersion};

use crate::datasets::recording::Recording;
use crate::error::{EvalError, Result};

/// One example of a dataset version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Example {
    pub trace_id: String,
    /// The version that added it.
    pub added_in: i64,
    pub recording: Recording,
    /// An expected outcome (e.g. `pass`), from the recording or an annotation.
    pub expected: Option<String>,
    pub label: Option<String>,
}

/// What a person says about the examples they add.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct Annotation {
    /// The outcome the run should have had (`pass`, `fail`, or a few words).
    pub expected: Option<String>,
    /// A label; `critical` makes a regression on the example fail the gate.
    pub label: Option<String>,
}

impl Annotation {
    /// Blank fields are absent; each field is at most 200 characters.
    fn validated(&self) -> Result<Annotation> {
        let field = |value: &Option<String>, what: &str| -> Result<Option<String>> {
            let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty());
            match value {
                Some(text) if text.chars().count() > 200 => Err(EvalError::Invalid(format!(
                    "the {what} of an example is at most 200 characters"
                ))),
                other => Ok(other.map(str::to_string)),
            }
        };
        Ok(Annotation {
            expected: field(&self.expected, "expected outcome")?,
            label: field(&self.label, "label")?,
        })
    }
}

/// Most examples one new version may add.
pub const MAX_EXAMPLES_PER_VERSION: usize = 1000;
/// Largest recording (as stored, JSON) one example may keep.
pub const MAX_RECORDING_BYTES: usize = 16 * 1024 * 1024;
/// Most recording bytes one new version may add: what a request holds in memory at once.
pub const MAX_VERSION_BYTES: usize = 256 * 1024 * 1024;

/// The bounds of one new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExampleCaps {
    pub examples: usize,
    pub recording_bytes: usize,
    pub version_bytes: usize,
}

impl Default for ExampleCaps {
    fn default() -> ExampleCaps {
        ExampleCaps {
            examples: MAX_EXAMPLES_PER_VERSION,
            recording_bytes: MAX_RECORDING_BYTES,
            version_bytes: MAX_VERSION_BYTES,
        }
    }
}

/// The recordings of one new version, serialized as stored and within the caps. Built
/// before the metadata store is locked (every authentication takes that lock), so the
/// lock is held only to insert.
#[derive(Debug, Default)]
pub struct ExampleBatch {
    caps: ExampleCaps,
    /// (trace id, recording JSON).
    recordings: Vec<(String, String)>,
    bytes: usize,
}

impl ExampleBatch {
    pub fn with_caps(caps: ExampleCaps) -> ExampleBatch {
        ExampleBatch {
            caps,
            ..ExampleBatch::default()
        }
    }

    /// Adds a recording; past a cap, an error naming it.
    pub fn push(&mut self, recording: &Recording) -> Result<()> {
        let caps = self.caps;
        if self.recordings.len() >= caps.examples {
            return Err(EvalError::Invalid(format!(
                "a dataset version adds at most {} examples; add the rest as another version",
                caps.examples
            )));
        }
        let json = serde_json::to_string(recording)?;
        if json.len() > caps.recording_bytes {
            return Err(EvalError::Invalid(format!(
                "the recording of trace {} is {} bytes; an example keeps at most {} bytes",
                recording.trace_id,
                json.len(),
                caps.recording_bytes
            )));
        }
        if self.bytes + json.len() > caps.version_bytes {
            return Err(EvalError::Invalid(format!(
                "these traces' recordings are over {} bytes, the most one dataset version adds; add fewer traces at a time",
                caps.version_bytes
            )));
        }
        self.bytes += json.len();
        self.recordings.push((recording.trace_id.clone(), json));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.recordings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recordings.is_empty()
    }
}

/// Checks a dataset name: letters, digits, `-`, `_`, `.`, at most 128.
pub fn validate_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(EvalError::Invalid(format!(
            "invalid dataset name {name:?}: use letters, digits, '-', '_' and '.' (at most 128)"
        )))
    }
}

/// Adds recordings to a dataset (created on first use) as one new version, each with the
/// annotation. A trace already in the dataset keeps its example (and annotation) as it
/// was: versions never change once made.
pub fn add_examples(
    store: &MetadataStore,
    project_id: &str,
    name: &str,
    recordings: &ExampleBatch,
    source: &str,
    annotation: &Annotation,
) -> Result<AddedVersion> {
    validate_name(name)?;
    let annotation = annotation.validated()?;
    Ok(store.datasets().add_version(
        project_id,
        name,
        &NewVersion {
            examples: &recordings.recordings,
            expected: annotation.expected.as_deref(),
            label: annotation.label.as_deref(),
            source,
        },
    )?)
}

/// The project's datasets, by name.
pub fn list_datasets(store: &MetadataStore, project_id: &str) -> Result<Vec<DatasetSummary>> {
    Ok(store.datasets().list(project_id)?)
}

/// The examples of a version (the newest when `None`), oldest first, with the version.
pub fn load_examples(
    store: &MetadataStore,
    project_id: &str,
    name: &str,
    version: Option<i64>,
) -> Result<(i64, Vec<Example>)> {
    match store.datasets().load(project_id, name, version)? {
        LoadedVersion::NoSuchDataset => Err(EvalError::NotFound(format!(
            "no dataset {name:?}; `sextant dataset list` shows the datasets"
        ))),
        LoadedVersion::NoSuchVersion { newest } => Err(EvalError::NotFound(format!(
            "dataset {name:?} has versions 1 to {newest}, not {}",
            version.unwrap_or(newest)
        ))),
        LoadedVersion::Examples { version, examples } => {
            let examples = examples
                .into_iter()
                .map(|stored| {
                    Ok(Example {
                        trace_id: stored.trace_id,
                        added_in: stored.added_in,
                        recording: serde_json::from_str(&stored.recording)?,
                        expected: stored.expected,
                        label: stored.label,
                    })
                })
                .collect::<Result<_>>()?;
            Ok((version, examples))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::recording::Outcome;

    fn recording(trace_id: &str) -> Recording {
        Recording {
            trace_id: trace_id.into(),
            root_name: "invoke_agent".into(),
            first_input: None,
            outcome: Outcome {
                failed: false,
                error: None,
            },
            llm_calls: Vec::new(),
            tool_calls: Vec::new(),
            repository: None,
        }
    }

    fn batch(trace_ids: &[&str]) -> ExampleBatch {
        let mut batch = ExampleBatch::default();
        for trace_id in trace_ids {
            batch.push(&recording(trace_id)).expect("within the caps");
        }
        batch
    }

    #[test]
    fn a_batch_refuses_examples_past_its_caps_naming_the_cap() {
        let one_recording_bytes = serde_json::to_string(&recording("t1")).expect("json").len();
        let caps = ExampleCaps {
            examples: 2,
            recording_bytes: one_recording_bytes,
            version_bytes: 10 * one_recording_bytes,
        };
        let mut batch = ExampleBatch::with_caps(caps);
        batch.push(&recording("t1")).expect("first");
        batch.push(&recording("t2")).expect("second");
        let error = batch.push(&recording("t3")).expect_err("a third");
        assert!(error.to_string().contains("at most 2 examples"), "{error}");

        let mut big = recording("t4");
        big.root_name.push('x');
        let error = ExampleBatch::with_caps(caps)
            .push(&big)
            .expect_err("too big");
        assert!(
            error.to_string().contains(&format!(
                "trace t4 is {} bytes; an example keeps at most {one_recording_bytes} bytes",
                one_recording_bytes + 1
            )),
            "{error}"
        );

        let mut small_version = ExampleBatch::with_caps(ExampleCaps {
            version_bytes: one_recording_bytes + 1,
            ..caps
        });
        small_version.push(&recording("t1")).expect("first");
        let error = small_version.push(&recording("t2")).expect_err("over");
        assert!(
            error.to_string().contains(&format!(
                "over {} bytes, the most one dataset version adds",
                one_recording_bytes + 1
            )),
            "{error}"
        );
        assert_eq!(small_version.len(), 1);
    }

    #[test]
    fn adding_examples_makes_versions_that_keep_their_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("store");
        let first = add_examples(
            &store,
            "default",
            "failed-runs",
            &batch(&["t1", "t2"]),
            "ids",
            &Annotation::default(),
        )
        .expect("add");
        assert_eq!((first.version, first.added), (1, 2));
        let second = add_examples(
            &store,
            "default",
            "failed-runs",
            &batch(&["t2", "t3"]),
            "ids",
            &Annotation {
                expected: Some(" pass ".into()),
                label: Some("critical".into()),
            },
        )
        .expect("add");
        assert_eq!(
            (second.version, second.added, second.already_present),
            (2, 1, 1)
        );
        let relabelled = Annotation {
            expected: None,
            label: Some("flaky".into()),
        };
        let unchanged = add_examples(
            &store,
            "default",
            "failed-runs",
            &batch(&["t3"]),
            "ids",
            &relabelled,
        )
        .expect("add");
        assert_eq!(
            (unchanged.version, unchanged.added),
            (2, 0),
            "no empty version"
        );

        let ids = |version| -> Vec<String> {
            load_examples(&store, "default", "failed-runs", version)
                .expect("load")
                .1
                .into_iter()
                .map(|example| example.trace_id)
                .collect()
        };
        assert_eq!(ids(Some(1)), ["t1", "t2"]);
        assert_eq!(ids(None), ["t1", "t2", "t3"]);
        let (_, examples) = load_examples(&store, "default", "failed-runs", None).expect("load");
        assert_eq!(examples[0].label, None);
        assert_eq!(
            (
                examples[2].expected.as_deref(),
                examples[2].label.as_deref()
            ),
            (Some("pass"), Some("critical")),
            "annotated when added, trimmed, and kept as it was"
        );
        assert!(load_examples(&store, "default", "failed-runs", Some(3)).is_err());
        assert!(
            load_examples(&store, "other-project", "failed-runs", None).is_err(),
            "per project"
        );
        let listed = list_datasets(&store, "default").expect("list");
        assert_eq!((listed[0].version, listed[0].examples), (2, 3));
        let none = Annotation::default();
        assert!(add_examples(&store, "default", "bad name!", &batch(&[]), "ids", &none).is_err());
        let long = Annotation {
            expected: None,
            label: Some("x".repeat(201)),
        };
        assert!(add_examples(&store, "default", "ok", &batch(&["t9"]), "ids", &long).is_err());
    }
}
