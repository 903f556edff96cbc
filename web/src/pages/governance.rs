//! The governance page (`/governance?since=7d&user=&agent=&repository=`): what agents
//! touched — files written, commands by program, hosts contacted, permission decisions by
//! who made them, secrets handled — and the project's open alerts, which an admin
//! acknowledges or resolves here (`POST /governance/alerts/{id}`, a plain form). Every
//! figure shows its SQL over `agent_actions`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Redirect};
use minijinja::context;
use sextant_meta::alerts::STATES;
use sextant_meta::keys::Scope;
use sextant_query::agent_actions::overview::{OverviewRequest, load_overview};
use sextant_query::sql_context::project_context;

use crate::api::trace_list_params::window_until_now;
use crate::auth::form_check::check_form;
use crate::auth::{AdminPageAccess, PageAccess};
use crate::pages::dashboards::WINDOWS;
use crate::respond::api_error::ApiError;
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

/// Alerts listed on the page (open and acknowledged, newest first).
const ALERTS_SHOWN: usize = 100;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct GovernanceParams {
    pub since: String,
    pub user: String,
    pub agent: String,
    pub repository: String,
}

fn set(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

pub async fn get_governance(
    State(state): State<AppState>,
    access: PageAccess,
    Query(params): Query<GovernanceParams>,
) -> Result<Html<String>, PageError> {
    let (since, from_ns, to_ns) = window_until_now(&params.since, "7d")?;
    let request = OverviewRequest {
        from_ns,
        to_ns,
        user: set(&params.user),
        agent: set(&params.agent),
        repository: set(&params.repository),
    };
    let project = &access.principal.project_id;
    // The page's queries read the whole window: they take a query slot like users' SQL.
    let _slot = state
        .query_slots
        .acquire(project)
        .await
        .map_err(|busy| PageError(busy.error()))?;
    let context = project_context(state.data_dir(), project).await?;
    let overview = load_overview(&context, &request).await?;
    let alerts = state
        .access
        .with_store(|store| {
            let alerts = store.alerts();
            let mut shown = alerts.list(project, Some("open"), None, ALERTS_SHOWN)?;
            shown.extend(alerts.list(project, Some("acknowledged"), None, ALERTS_SHOWN)?);
            Ok::<_, sextant_meta::StoreError>(shown)
        })
        .map_err(ApiError::internal)?;
    let html = render(
        "governance.html",
        context! { viewer => access.viewer.clone(),
            page_title => "Governance",
            nav => "governance",
            since,
            windows => WINDOWS,
            user => params.user.trim(),
            agent => params.agent.trim(),
            repository => params.repository.trim(),
            totals => overview.totals.rows.first(),
            overview,
            alerts,
            can_change_alerts => access.principal.scope.allows(Scope::Admin),
        },
    )?;
    Ok(Html(html))
}

#[derive(Debug, serde::Deserialize)]
pub struct AlertForm {
    state: String,
    #[serde(default)]
    csrf_token: String,
}

/// Moves an alert to the form's state (admin), then back to the page.
pub async fn post_alert_state(
    State(state): State<AppState>,
    AdminPageAccess(access): AdminPageAccess,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<AlertForm>,
) -> Result<Redirect, PageError> {
    check_form(&access.viewer, &form.csrf_token, &headers)?;
    let wanted = STATES
        .iter()
        .find(|known| **known == form.state)
        .ok_or_else(|| ApiError::bad_request(format!("unknown state {:?}", form.state)))?;
    state
        .access
        .with_store(|store| {
            store
                .alerts()
                .set_state(&access.principal.project_id, id, wanted)
        })
        .map_err(ApiError::internal)?;
    Ok(Redirect::to("/governance#alerts"))
}
