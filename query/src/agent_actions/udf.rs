//! `tool_actions(source, tool_name, input, output, attributes, resource_attributes, success)`:
//! the actions of one stored span or event, as a list of structs the `agent_actions` view
//! unnests. Each struct also carries the run's repository and branch when its resource
//! names them (OTel `vcs.*` attributes, or `git.repository`/`git.branch`), and its user
//! (`user.email`, `user.account_uuid`, `enduser.id`) when the span or event names one.
//!
//! `source` is `'span'` for a tool span (its `input` holds the arguments) or the event's
//! name for a log event (`claude_code.tool_result`, `codex.tool_decision`, …: the arguments,
//! decision and MCP server are read from its `attributes`).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, ListBuilder, StringBuilder, StructBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::cast::as_string_array;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use serde_json::{Map, Value};

use super::{
    AgentAction, ToolCall, actions_of_call, decision_action, parse_arguments, secret_actions,
};

/// The name the view calls it by.
pub const TOOL_ACTIONS: &str = "tool_actions";

const TEXT_FIELDS: [&str; 9] = [
    "kind",
    "target",
    "program",
    "detail",
    "decision",
    "decision_source",
    "repository",
    "branch",
    "user",
];

/// Who ran the agent, most readable first (Claude Code's `user.id` is a hash).
const USER_KEYS: &[&str] = &["user.email", "user.account_uuid", "enduser.id"];

const REPOSITORY_KEYS: &[&str] = &[
    "vcs.repository.url.full",
    "vcs.repository.name",
    "git.repository",
    "repository",
];
const BRANCH_KEYS: &[&str] = &[
    "vcs.ref.head.name",
    "vcs.repository.ref.name",
    "git.branch",
    "branch",
];

fn action_fields() -> Fields {
    let mut fields: Vec<Field> = TEXT_FIELDS
        .iter()
        .map(|name| Field::new(*name, DataType::Utf8, *name != "kind" && *name != "target"))
        .collect();
    fields.push(Field::new("success", DataType::Boolean, true));
    Fields::from(fields)
}

/// The function's result type: a list of action structs.
pub fn actions_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(action_fields()),
        true,
    )))
}

pub fn tool_actions_udf() -> ScalarUDF {
    let function = |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let [
            source,
            tool_name,
            input,
            output,
            attributes,
            resource,
            success,
        ] = arrays.as_slice()
        else {
            return Err(datafusion::error::DataFusionError::Internal(
                "tool_actions takes 7 arguments".into(),
            ));
        };
        let texts = [source, tool_name, input, output, attributes, resource]
            .map(|array| as_string_array(array))
            .into_iter()
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let success = success.as_boolean();
        let text = |column: usize, row: usize| -> Option<&str> {
            let array = texts[column];
            (!array.is_null(row)).then(|| array.value(row))
        };
        let mut builder = ListBuilder::new(StructBuilder::from_fields(action_fields(), 0));
        for row in 0..success.len() {
            let row_success = (!success.is_null(row)).then(|| success.value(row));
            let attributes = json_object(text(4, row));
            let actions = actions_of_row(
                text(0, row).unwrap_or_default(),
                text(1, row).unwrap_or_default(),
                text(2, row),
                text(3, row),
                &attributes,
                row_success,
            );
            let place = Place::of(&json_object(text(5, row)), &attributes);
            append_actions(&mut builder, &actions, &place);
        }
        Ok(ColumnarValue::Array(Arc::new(builder.finish()) as ArrayRef))
    };
    create_udf(
        TOOL_ACTIONS,
        vec![
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Boolean,
        ],
        actions_type(),
        Volatility::Immutable,
        Arc::new(function),
    )
}

/// The actions of one span (`source = "span"`) or log event (`source` = its name).
pub fn row_actions(
    source: &str,
    tool_name: &str,
    input: Option<&str>,
    output: Option<&str>,
    attributes: Option<&str>,
    success: Option<bool>,
) -> Vec<AgentAction> {
    let attributes = json_object(attributes);
    actions_of_row(source, tool_name, input, output, &attributes, success)
}

/// A JSON object column's value as a map (empty when absent or not an object).
fn json_object(text: Option<&str>) -> Map<String, Value> {
    text.and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// [`row_actions`] over attributes already parsed.
fn actions_of_row(
    source: &str,
    tool_name: &str,
    input: Option<&str>,
    output: Option<&str>,
    attributes: &Map<String, Value>,
    success: Option<bool>,
) -> Vec<AgentAction> {
    let attribute = |key: &str| {
        attributes
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    let tool_name = if tool_name.is_empty() {
        attribute("tool_name").unwrap_or_default()
    } else {
        tool_name
    };
    let mut actions = match source {
        "span" => {
            let call = ToolCall {
                tool_name,
                arguments: input.map(parse_arguments),
                success,
                cwd: attribute("cwd").or_else(|| attribute("process.cwd")),
                mcp_server: attribute("mcp.server.name").or_else(|| attribute("mcp_server")),
            };
            actions_of_call(&call)
        }
        "claude_code.tool_result" | "codex.tool_result" => {
            let arguments = attribute("tool_input")
                .or_else(|| attribute("arguments"))
                .or_else(|| attribute("tool_parameters"))
                .map(parse_arguments);
            let call = ToolCall {
                tool_name,
                arguments,
                success,
                cwd: attribute("cwd"),
                mcp_server: attribute("mcp_server"),
            };
            actions_of_call(&call)
        }
        "claude_code.tool_decision" | "codex.tool_decision" => match attribute("decision") {
            Some(decision) => {
                let arguments = attribute("tool_parameters")
                    .or_else(|| attribute("tool_input"))
                    .or_else(|| attribute("arguments"))
                    .map(parse_arguments);
                vec![decision_action(
                    tool_name,
                    arguments.as_ref(),
                    decision,
                    attribute("source"),
                )]
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    // One row per kind of secret the span or event held, naming every field it was in
    // (Claude Code repeats a command in `tool_parameters` and `tool_input`).
    let mut secrets: Vec<AgentAction> = Vec::new();
    let texts = [("input", input), ("output", output)]
        .into_iter()
        .filter_map(|(field, text)| Some((field, text?)))
        .chain(
            attributes
                .iter()
                .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?))),
        );
    for (field, text) in texts {
        for found in secret_actions(text, field) {
            match secrets.iter_mut().find(|seen| seen.detail == found.detail) {
                Some(seen) if !seen.target.split(',').any(|known| known == field) => {
                    seen.target = format!("{},{field}", seen.target);
                }
                Some(_) => {}
                None => secrets.push(found),
            }
        }
    }
    actions.extend(secrets);
    actions
}

/// Where and by whom the run worked: its repository and branch, when its resource says,
/// and its user, when the span, event or resource names one.
#[derive(Debug, Default)]
struct Place {
    repository: Option<String>,
    branch: Option<String>,
    user: Option<String>,
}

impl Place {
    fn of(resource: &Map<String, Value>, attributes: &Map<String, Value>) -> Place {
        let first = |keys: &[&str]| {
            [attributes, resource].into_iter().find_map(|map| {
                keys.iter()
                    .find_map(|key| map.get(*key).and_then(Value::as_str))
                    .filter(|text| !text.is_empty())
                    .map(str::to_string)
            })
        };
        Place {
            repository: first(REPOSITORY_KEYS),
            branch: first(BRANCH_KEYS),
            user: first(USER_KEYS),
        }
    }
}

fn append_actions(
    builder: &mut ListBuilder<StructBuilder>,
    actions: &[AgentAction],
    place: &Place,
) {
    let values = builder.values();
    for action in actions {
        let texts = [
            Some(action.kind.as_str()),
            Some(action.target.as_str()),
            action.program.as_deref(),
            action.detail.as_deref(),
            action.decision.as_deref(),
            action.decision_source.as_deref(),
            place.repository.as_deref(),
            place.branch.as_deref(),
            place.user.as_deref(),
        ];
        for (index, text) in texts.into_iter().enumerate() {
            values
                .field_builder::<StringBuilder>(index)
                .expect("text field")
                .append_option(text);
        }
        values
            .field_builder::<BooleanBuilder>(TEXT_FIELDS.len())
            .expect("success field")
            .append_option(action.success);
        values.append(true);
    }
    builder.append(true);
}
