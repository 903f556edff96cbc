//! [`AccessControl`]: what every interface asks — "may this request do that, and as which
//! project?" — answered from the keys ([`crate::keys`]), cached in memory and reloaded
//! when another process (the CLI) changes them; failures written to the audit log
//! ([`crate::audit`]), browsers signed in ([`crate::web_sessions`]), and each project held
//! to its rate limits ([`crate::limits`]).
//!
//! Open local mode: while no key was ever created, every request is the `default`
//! project's admin, so `sextant demo` just works on loopback. Creating the first key ends
//! open mode for good (revoking every key does not reopen the server).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use crate::DEFAULT_PROJECT;
use crate::audit::{AuditEntry, FailedAuthThrottle};
use crate::clock::now_ms;
use crate::keys::{
    self, KeyError, KeyRecord, Scope, key_id_of, keyed_hash, load_or_create_pepper, random_token,
};
use crate::limits::{LimitsConfig, RateLimiter};
use crate::store::{MetadataStore, SharedMetadata};
use crate::web_sessions::WebSession;

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub project_id: String,
    pub scope: Scope,
    /// The key used; `None` in open local mode.
    pub key_id: Option<String>,
}

impl Principal {
    /// The actor name written to the audit log.
    pub fn actor(&self) -> String {
        match &self.key_id {
            Some(id) => format!("key:{id}"),
            None => "open-mode".to_string(),
        }
    }

    /// Names the project and key on the current request's span (the HTTP server opens one
    /// per request with these fields empty), so what is logged while serving it says whose
    /// request it was.
    pub fn record_on_request_span(&self) {
        let span = tracing::Span::current();
        span.record("project", tracing::field::display(&self.project_id));
        span.record(
            "key_id",
            tracing::field::display(self.key_id.as_deref().unwrap_or("open-mode")),
        );
    }
}

/// Why a request was refused. `Forbidden` is 403; every other kind is 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error(
        "this Sextant requires an API key: send `Authorization: Bearer <key>` (an admin creates one with `sextant keys create --project <project> --scope {needed}`)"
    )]
    Missing { needed: Scope },
    #[error("the credentials are malformed: expected `Authorization: Bearer sxt_<id>_<secret>`")]
    Malformed,
    #[error("the API key is not valid")]
    UnknownKey,
    #[error("the API key {key_id} was revoked")]
    Revoked { key_id: String },
    #[error(
        "the API key {key_id} has the {have} scope; this needs a {needed} key (or an admin key)"
    )]
    Forbidden {
        key_id: String,
        have: Scope,
        needed: Scope,
    },
    #[error("the web session has ended; sign in again")]
    SessionEnded,
    #[error("the metadata store failed; see the server log")]
    Unavailable,
}

impl AuthFailure {
    /// True for 403 (a valid key of the wrong scope), false for 401.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, AuthFailure::Forbidden { .. })
    }

    /// True when the store failed, not the client.
    pub fn is_internal(&self) -> bool {
        matches!(self, AuthFailure::Unavailable)
    }

    /// The project the failure concerns, when the key is known (for the audit log).
    fn project_and_actor(&self, keys: &HashMap<String, KeyRecord>) -> (Option<String>, String) {
        match self {
            AuthFailure::Revoked { key_id } | AuthFailure::Forbidden { key_id, .. } => (
                keys.get(key_id).map(|key| key.project_id.clone()),
                format!("key:{key_id}"),
            ),
            _ => (None, "anonymous".to_string()),
        }
    }
}

/// The keys as last read from the store.
struct KeyCache {
    data_version: Option<i64>,
    keys: HashMap<String, KeyRecord>,
    keys_ever_created: i64,
}

/// Answers "may this request do that, and as which project?" for every interface.
pub struct AccessControl {
    metadata: SharedMetadata,
    /// Locked before `metadata` whenever both are.
    key_cache: Mutex<KeyCache>,
    pepper: [u8; 32],
    throttle: Mutex<FailedAuthThrottle>,
    limits: RateLimiter,
}

impl AccessControl {
    /// Opens the metadata store and pepper of a data dir.
    pub fn open(data_dir_root: &Path) -> Result<AccessControl, KeyError> {
        let store = MetadataStore::open(data_dir_root)?;
        let pepper = load_or_create_pepper(data_dir_root)?;
        let cache = KeyCache {
            data_version: None,
            keys: HashMap::new(),
            keys_ever_created: 0,
        };
        let access = AccessControl {
            metadata: SharedMetadata::new(store),
            key_cache: Mutex::new(cache),
            pepper,
            throttle: Mutex::new(FailedAuthThrottle::default()),
            limits: RateLimiter::default(),
        };
        access.with_keys(|_, _| ())?;
        Ok(access)
    }

    /// Applies per-project rate limits (the `[limits]` config section).
    pub fn with_limits(mut self, config: LimitsConfig) -> AccessControl {
        self.limits = RateLimiter::new(config);
        self
    }

    /// The per-project rate limits every interface checks after authorizing.
    pub fn limits(&self) -> &RateLimiter {
        &self.limits
    }

    /// Runs `body` on the store and the current keys, reloading them if another
    /// connection changed the database since the last call.
    fn with_keys<T>(
        &self,
        body: impl FnOnce(&MetadataStore, &KeyCache) -> T,
    ) -> rusqlite::Result<T> {
        let mut cache = self
            .key_cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        self.metadata.with(|store| {
            let version = store.data_version()?;
            if cache.data_version != Some(version) {
                cache.keys = store
                    .keys()
                    .list(None)?
                    .into_iter()
                    .map(|key| (key.id.clone(), key))
                    .collect();
                cache.keys_ever_created = cache.keys.len() as i64;
                cache.data_version = Some(version);
            }
            Ok(body(store, &cache))
        })
    }

    /// Runs `body` on the store. Keys change only through [`AccessControl::create_key`]
    /// and [`AccessControl::revoke_key`], which keep the key cache true.
    pub fn with_store<T>(&self, body: impl FnOnce(&MetadataStore) -> T) -> T {
        self.metadata.with(body)
    }

    /// The metadata store this access control reads its keys from, for the rest of the
    /// process (eval datasets, runs, the response cache).
    pub fn metadata(&self) -> &SharedMetadata {
        &self.metadata
    }

    /// Runs a key change on the store and makes the cache reload: our own writes do not
    /// change `data_version`.
    fn change_keys<T>(&self, body: impl FnOnce(&MetadataStore) -> T) -> T {
        let mut cache = self
            .key_cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let result = self.metadata.with(body);
        cache.data_version = None;
        result
    }

    /// Creates a key of an existing project, audited as done by `actor`.
    pub fn create_key(
        &self,
        project_id: &str,
        scope: Scope,
        name: Option<&str>,
        actor: &str,
    ) -> Result<keys::CreatedKey, KeyError> {
        let created =
            self.change_keys(|store| store.keys().create(&self.pepper, project_id, scope, name))?;
        self.audit(AuditEntry::now(
            Some(project_id),
            actor,
            "key.create",
            "ok",
            format!("key {} scope {scope}", created.record.id),
        ));
        Ok(created)
    }

    /// Revokes a key (its web sessions end), audited as done by `actor`.
    pub fn revoke_key(&self, key_id: &str, actor: &str) -> Result<KeyRecord, KeyError> {
        let record = self.change_keys(|store| store.keys().revoke(key_id))?;
        self.audit(AuditEntry::now(
            Some(&record.project_id),
            actor,
            "key.revoke",
            "ok",
            format!("key {key_id}"),
        ));
        Ok(record)
    }

    pub fn pepper(&self) -> &[u8; 32] {
        &self.pepper
    }

    /// True while no key was ever created: everything is the `default` project, unauthenticated.
    pub fn is_open_mode(&self) -> bool {
        self.with_keys(|_, cache| cache.keys_ever_created == 0)
            .unwrap_or(false)
    }

    /// Authorizes a request by its `Authorization` header value.
    pub fn authorize_header(
        &self,
        authorization: Option<&str>,
        needed: Scope,
    ) -> Result<Principal, AuthFailure> {
        let outcome = self.with_keys(|_, cache| {
            if cache.keys_ever_created == 0 {
                return Ok(open_mode_principal());
            }
            let Some(header) = authorization else {
                return Err(AuthFailure::Missing { needed });
            };
            let key = bearer_token(header).ok_or(AuthFailure::Malformed)?;
            self.check_key(cache, key, needed)
        });
        self.settle(outcome)
    }

    /// Authorizes a bare key (the web sign-in form).
    pub fn authorize_key(&self, key: &str, needed: Scope) -> Result<Principal, AuthFailure> {
        let outcome = self.with_keys(|_, cache| self.check_key(cache, key.trim(), needed));
        self.settle(outcome)
    }

    /// The scope of a valid, unrevoked key of this data dir (None for any other string),
    /// without auditing: for checking a key before handing it on, not for admitting a request.
    pub fn key_scope(&self, key: &str) -> Option<Scope> {
        self.with_keys(|_, cache| {
            self.live_key_record(cache, key.trim())
                .ok()
                .map(|record| record.scope)
        })
        .ok()
        .flatten()
    }

    /// The record of a well-formed, known, matching and unrevoked key, whatever its scope.
    fn live_key_record<'c>(
        &self,
        cache: &'c KeyCache,
        key: &str,
    ) -> Result<&'c KeyRecord, AuthFailure> {
        let id = key_id_of(key).ok_or(AuthFailure::Malformed)?;
        let record = cache.keys.get(id).ok_or(AuthFailure::UnknownKey)?;
        if blake3::Hash::from_bytes(record.hash) != keyed_hash(&self.pepper, key) {
            return Err(AuthFailure::UnknownKey);
        }
        if record.revoked_at_ms.is_some() {
            return Err(AuthFailure::Revoked {
                key_id: record.id.clone(),
            });
        }
        Ok(record)
    }

    fn check_key(
        &self,
        cache: &KeyCache,
        key: &str,
        needed: Scope,
    ) -> Result<Principal, AuthFailure> {
        let record = self.live_key_record(cache, key)?;
        if !record.scope.allows(needed) {
            return Err(AuthFailure::Forbidden {
                key_id: record.id.clone(),
                have: record.scope,
                needed,
            });
        }
        Ok(Principal {
            project_id: record.project_id.clone(),
            scope: record.scope,
            key_id: Some(record.id.clone()),
        })
    }

    /// Turns a store error into `Unavailable` and writes failures to the audit log.
    fn settle(
        &self,
        outcome: rusqlite::Result<Result<Principal, AuthFailure>>,
    ) -> Result<Principal, AuthFailure> {
        let result = outcome.unwrap_or_else(|error| {
            tracing::error!(%error, "metadata store failed during authentication");
            Err(AuthFailure::Unavailable)
        });
        if let Err(failure) = &result
            && !failure.is_internal()
        {
            self.audit_failure(failure);
        }
        result
    }

    fn audit_failure(&self, failure: &AuthFailure) {
        let (summary, write) = self
            .throttle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .admit(now_ms());
        if summary.is_none() && !write {
            return;
        }
        let written = self.with_keys(|store, cache| -> rusqlite::Result<()> {
            if let Some(suppressed) = summary {
                store.audit().append(&AuditEntry::now(
                    None,
                    "anonymous",
                    "auth.failed",
                    "denied",
                    format!("{suppressed} more failed attempts in the last minute were not logged"),
                ))?;
            }
            if write {
                let (project, actor) = failure.project_and_actor(&cache.keys);
                store.audit().append(&AuditEntry::now(
                    project.as_deref(),
                    actor,
                    "auth.failed",
                    "denied",
                    failure.to_string(),
                ))?;
            }
            Ok(())
        });
        if let Err(error) | Ok(Err(error)) = written {
            tracing::warn!(%error, "cannot write a failed authentication to the audit log");
        }
    }

    /// Appends to the audit log; a failure is logged, never fails the action.
    pub fn audit(&self, entry: AuditEntry) {
        if let Err(error) = self.with_store(|store| store.audit().append(&entry)) {
            tracing::warn!(%error, action = entry.action, "cannot write to the audit log");
        }
    }

    /// Signs a browser in with a read, admin or operator key: returns the session token and
    /// CSRF token.
    pub fn sign_in(&self, key: &str) -> Result<(String, Principal), AuthFailure> {
        let is_operator_key = self
            .with_keys(|_, cache| {
                key_id_of(key.trim())
                    .and_then(|id| cache.keys.get(id))
                    .is_some_and(|record| record.scope == Scope::Operator)
            })
            .unwrap_or(false);
        let needed = if is_operator_key {
            Scope::Operator
        } else {
            Scope::Read
        };
        let principal = self.authorize_key(key, needed)?;
        let key_id = principal.key_id.clone().ok_or(AuthFailure::UnknownKey)?;
        let token = random_token().map_err(|_| AuthFailure::Unavailable)?;
        let csrf = random_token().map_err(|_| AuthFailure::Unavailable)?;
        let hash = *keyed_hash(&self.pepper, &token).as_bytes();
        self.with_store(|store| store.web_sessions().insert(&hash, &key_id, &csrf))
            .map_err(|error| {
                tracing::error!(%error, "cannot store a web session");
                AuthFailure::Unavailable
            })?;
        self.audit(AuditEntry::now(
            Some(&principal.project_id),
            principal.actor(),
            "web.sign_in",
            "ok",
            "",
        ));
        Ok((token, principal))
    }

    /// The principal and CSRF token of a browser's session cookie, if its key's scope
    /// allows `needed`.
    pub fn authorize_web_session(
        &self,
        token: &str,
        needed: Scope,
    ) -> Result<(Principal, String), AuthFailure> {
        self.live_web_session(token, Some(needed))
    }

    /// The principal and CSRF token of a browser's live session, whatever its key's scope:
    /// for sign-out, which every signed-in browser may do (an operator's too).
    pub fn web_session(&self, token: &str) -> Result<(Principal, String), AuthFailure> {
        self.live_web_session(token, None)
    }

    fn live_web_session(
        &self,
        token: &str,
        needed: Option<Scope>,
    ) -> Result<(Principal, String), AuthFailure> {
        let hash = *keyed_hash(&self.pepper, token).as_bytes();
        let outcome = self.with_keys(|store, cache| -> rusqlite::Result<_> {
            let Some((key_id, csrf_token)) = store.web_sessions().get(&hash)? else {
                return Ok(Err(AuthFailure::SessionEnded));
            };
            let Some(key) = cache.keys.get(&key_id) else {
                return Ok(Err(AuthFailure::SessionEnded));
            };
            if key.revoked_at_ms.is_some() {
                return Ok(Err(AuthFailure::SessionEnded));
            }
            if let Some(needed) = needed
                && !key.scope.allows(needed)
            {
                return Ok(Err(AuthFailure::Forbidden {
                    key_id,
                    have: key.scope,
                    needed,
                }));
            }
            Ok(Ok(WebSession {
                key: key.clone(),
                csrf_token,
            }))
        });
        let session = match outcome {
            Ok(Ok(inner)) => inner,
            Ok(Err(error)) | Err(error) => {
                tracing::error!(%error, "metadata store failed reading a web session");
                Err(AuthFailure::Unavailable)
            }
        }?;
        Ok((
            Principal {
                project_id: session.key.project_id.clone(),
                scope: session.key.scope,
                key_id: Some(session.key.id.clone()),
            },
            session.csrf_token,
        ))
    }

    /// Ends a browser session.
    pub fn sign_out(&self, token: &str, principal: &Principal) {
        let hash = *keyed_hash(&self.pepper, token).as_bytes();
        if let Err(error) = self.with_store(|store| store.web_sessions().delete(&hash)) {
            tracing::warn!(%error, "cannot delete a web session");
        }
        self.audit(AuditEntry::now(
            Some(&principal.project_id),
            principal.actor(),
            "web.sign_out",
            "ok",
            "",
        ));
    }
}

fn open_mode_principal() -> Principal {
    Principal {
        project_id: DEFAULT_PROJECT.to_string(),
        scope: Scope::Admin,
        key_id: None,
    }
}

/// The token of a `Bearer <token>` header value (scheme case-insensitive).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_mode_until_the_first_key_then_every_failure_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let access = AccessControl::open(dir.path()).expect("open");
        assert!(access.is_open_mode());
        let open = access
            .authorize_header(None, Scope::Read)
            .expect("open mode");
        assert_eq!(open.project_id, "default");

        access.with_store(|store| store.projects().create("team-a").expect("project"));
        let ingest = access
            .create_key("team-a", Scope::Ingest, None, "test")
            .expect("key");
        let reader = access
            .create_key("team-a", Scope::Read, None, "test")
            .expect("key");
        assert!(!access.is_open_mode());
        let bearer = |key: &str| format!("Bearer {key}");

        let principal = access
            .authorize_header(Some(&bearer(&ingest.key)), Scope::Ingest)
            .expect("ingest key ingests");
        assert_eq!(principal.project_id, "team-a");
        assert!(matches!(
            access.authorize_header(None, Scope::Read),
            Err(AuthFailure::Missing { .. })
        ));
        assert_eq!(
            access.authorize_header(Some("Basic abc"), Scope::Read),
            Err(AuthFailure::Malformed)
        );
        // Same id, another secret.
        let last = if reader.key.ends_with('0') { "1" } else { "0" };
        let forged = format!("{}{last}", &reader.key[..reader.key.len() - 1]);
        assert_eq!(
            access.authorize_header(Some(&bearer(&forged)), Scope::Read),
            Err(AuthFailure::UnknownKey)
        );
        let forbidden = access
            .authorize_header(Some(&bearer(&ingest.key)), Scope::Read)
            .expect_err("an ingest key cannot read");
        assert!(forbidden.is_forbidden(), "{forbidden}");

        let (token, _) = access.sign_in(&reader.key).expect("sign in");
        access
            .authorize_web_session(&token, Scope::Read)
            .expect("session works");
        access
            .revoke_key(&reader.record.id, "test")
            .expect("revoke");
        assert!(matches!(
            access.authorize_header(Some(&bearer(&reader.key)), Scope::Read),
            Err(AuthFailure::Revoked { .. })
        ));
        assert_eq!(
            access.authorize_web_session(&token, Scope::Read).err(),
            Some(AuthFailure::SessionEnded)
        );
        // Revoking every key does not reopen the server.
        access
            .revoke_key(&ingest.record.id, "test")
            .expect("revoke");
        assert!(!access.is_open_mode());

        let failures = access.with_store(|store| store.audit().list(None, 100).expect("audit"));
        assert!(
            failures.iter().any(|entry| entry.action == "auth.failed"
                && entry.project_id.as_deref() == Some("team-a")),
            "{failures:?}"
        );
    }

    #[test]
    fn an_operator_key_signs_in_but_reads_and_ingests_no_project() {
        let dir = tempfile::tempdir().expect("tempdir");
        let access = AccessControl::open(dir.path()).expect("open");
        let operator = access
            .create_key(keys::NO_PROJECT, Scope::Operator, Some("finance"), "test")
            .expect("operator key");
        let admin = access
            .create_key("default", Scope::Admin, None, "test")
            .expect("admin key");
        let header = format!("Bearer {}", operator.key);
        for needed in [Scope::Ingest, Scope::Read, Scope::Admin] {
            let refused = access
                .authorize_header(Some(&header), needed)
                .expect_err("an operator key is of no project");
            assert!(refused.is_forbidden(), "{needed}: {refused}");
        }
        let principal = access
            .authorize_header(Some(&header), Scope::Operator)
            .expect("operator");
        assert_eq!(principal.project_id, keys::NO_PROJECT);
        assert!(
            access
                .authorize_header(Some(&format!("Bearer {}", admin.key)), Scope::Operator)
                .expect_err("a project admin is no operator")
                .is_forbidden()
        );
        let (token, signed_in) = access.sign_in(&operator.key).expect("sign in");
        assert_eq!(signed_in.scope, Scope::Operator);
        access
            .authorize_web_session(&token, Scope::Operator)
            .expect("the session is the operator's");
        assert!(
            access
                .authorize_web_session(&token, Scope::Read)
                .expect_err("and reads nothing")
                .is_forbidden()
        );
        let (principal, _) = access.web_session(&token).expect("a live session");
        access.sign_out(&token, &principal);
        assert_eq!(
            access.authorize_web_session(&token, Scope::Operator).err(),
            Some(AuthFailure::SessionEnded),
            "signing out ends an operator's session too"
        );
    }

    #[test]
    fn another_process_creating_a_key_is_seen_without_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let access = AccessControl::open(dir.path()).expect("open");
        assert!(access.is_open_mode());
        let cli = MetadataStore::open(dir.path()).expect("second connection");
        let pepper = load_or_create_pepper(dir.path()).expect("pepper");
        let created = cli
            .keys()
            .create(&pepper, "default", Scope::Read, None)
            .expect("key");
        assert!(!access.is_open_mode());
        access
            .authorize_header(Some(&format!("Bearer {}", created.key)), Scope::Read)
            .expect("the new key works");
    }
}
