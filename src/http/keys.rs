//! API keys (admin): create (the secret is shown once), list, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, AsAdmin, NoQuery};
use super::middleware::WriteProgress;
use super::AppState;
use super::{written, Notice};
use crate::domain::{Binding, Role};
use crate::error::{ApiError, ErrorBody};
use crate::store::keys::{self, ApiKey, Revoked};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// A key to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    /// What the key is for: at most 200 characters as sent, printable, not blank (it is
    /// stored trimmed).
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u001F\\u007F-\\u009F \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$",
        example = "dialer-1"
    )]
    name: String,
    /// `dialer`, `agent`, `ops` or `admin`. A key bound to a `client` is a `dialer` or an
    /// `agent` (`422 invalid_binding` otherwise).
    #[schema(value_type = Role)]
    role: String,
    /// Binds the key to this client (README "Client-bound keys"): its checks are for this
    /// client whatever they name, it adds entries and consents only for it and sees only
    /// its data and global entries; it removes nothing. Same rules as `client` in
    /// `/v1/check` (at most 200 characters as sent, no control characters, not blank:
    /// `422 invalid_scope`).
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u001F\\u007F-\\u009F \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$",
        example = "acme"
    )]
    client: Option<String>,
    /// With `client` only (`422 invalid_binding` otherwise): the key checks and adds
    /// entries only for these campaigns of its client (a check naming no campaign is for
    /// the client alone). At most 100, each as `client`.
    #[schema(schema_with = campaign_names)]
    campaigns: Option<Vec<String>>,
    /// With `client` only (`422 invalid_binding` otherwise): the key may also add global
    /// entries (no client, no campaign). Default false.
    may_block_global: Option<bool>,
}

/// The schema of `campaigns`: at most 100 names, each by the rules of `client`.
fn campaign_names() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    // `null` counts as absent, as in every body.
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(200))
                .pattern(Some("^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u001F\\u007F-\\u009F \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$")),
        )
        .max_items(Some(100))
        .description(Some(
            "With `client` only (`422 invalid_binding` otherwise): the key checks and adds \
             entries only for these campaigns of its client (a check naming no campaign is \
             for the client alone). At most 100, each by the rules of `client`.",
        ))
        .examples([serde_json::json!(["summer-2026"])])
        .build()
}

/// An API key, without its secret.
#[derive(Serialize, ToSchema)]
struct KeyView {
    id: i64,
    name: String,
    #[schema(value_type = Role)]
    role: String,
    created_at: DateTime<Utc>,
    created_by: Option<i64>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<i64>,
    /// The client the key is bound to; null for an unbound key.
    client: Option<String>,
    /// The campaigns of `client` it is bound to; empty: all of them.
    campaigns: Vec<String>,
    /// Whether the bound key may add global entries.
    may_block_global: bool,
    /// Present on the answer to a write that this process may not honour yet
    /// (`not_yet_visible`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Notice>,
}

/// A new key, with its secret: shown only this once.
#[derive(Serialize, ToSchema)]
struct NewKey {
    #[serde(flatten)]
    view: KeyView,
    /// The secret, to send as `Authorization: Bearer <key>`. Stored only as its SHA-256.
    #[schema(example = "tz_…")]
    key: String,
}

/// Every key, without secrets.
#[derive(Serialize, ToSchema)]
struct KeyList {
    keys: Vec<KeyView>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        KeyView {
            id: k.id,
            name: k.name,
            role: k.role,
            created_at: k.created_at,
            created_by: k.created_by,
            revoked_at: k.revoked_at,
            revoked_by: k.revoked_by,
            client: k.client,
            campaigns: k.campaigns,
            may_block_global: k.may_block_global,
            warnings: Vec::new(),
        }
    }
}

/// Make an API key; its secret is shown only in this answer.
#[utoipa::path(
    post,
    operation_id = "create_key",
    path = "/v1/keys",
    tag = "keys",
    request_body = CreateRequest,
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 201, description = "The key, with its secret in `key`", body = NewKey),
        (status = 400, description = "The body is not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "A body over 1 MiB (`body_too_large`)", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "A name that is blank, too long or not printable (`invalid_name`), an unknown role (`invalid_role`), a `client` or campaign that is blank, too long or not printable (`invalid_scope`), `campaigns` or `may_block_global` without `client` or a bound `ops` or `admin` key (`invalid_binding`), or a body of the wrong shape (`invalid_body`)", body = ErrorBody),
    )
)]
async fn create(
    caller: AsAdmin,
    State(state): State<AppState>,
    _: NoQuery,
    progress: WriteProgress,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    let name = req.name.trim();
    if name.is_empty() || req.name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "name must be 1 to 200 characters of printable text",
        ));
    }
    let role: Role = req
        .role
        .parse()
        .map_err(|e: String| ApiError::unprocessable("invalid_role", e))?;
    let binding = binding(&req, role)?;
    progress.writing();
    let (key, secret) =
        keys::create_bound(&state.db, Some(caller.0.id), name, role, binding.as_ref()).await?;
    progress.committed();
    let visible = state
        .index
        .refresh_after_write(&state.db, progress.answer_by())
        .await;
    tracing::info!(key_id = key.id, role = %role, "api key created");
    let mut view = KeyView::from(key);
    view.warnings = written(visible, &state.settings);
    Ok((StatusCode::CREATED, Json(NewKey { view, key: secret })))
}

/// States in the document the rules between the fields of a key to make (as
/// `dnc::document_add_request` does for entries): without `client`, no `campaigns` and
/// no `may_block_global: true`; with it, the role is `dialer` or `agent`.
pub(super) fn document_create_request(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let of = |t: Type| ObjectBuilder::new().schema_type(t);
    let unbound = ObjectBuilder::new()
        .description(Some("An unbound key"))
        .property("client", of(Type::Null))
        .property("campaigns", of(Type::Null))
        .property(
            "may_block_global",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]))
                .enum_values(Some([serde_json::json!(false), serde_json::Value::Null])),
        );
    let bound = ObjectBuilder::new()
        .description(Some("A key bound to `client`: a dialer or an agent"))
        .property("client", of(Type::String))
        .required("client")
        .property(
            "role",
            of(Type::String).enum_values(Some(["dialer", "agent"])),
        );
    if let Some(fields) = components.schemas.remove("CreateRequest") {
        let schema = AllOfBuilder::new()
            .description(Some(
                "Unbound, or bound to `client` (then a `dialer` or an `agent`); `campaigns` \
                 and `may_block_global` only with `client`",
            ))
            .item(fields)
            .item(OneOfBuilder::new().item(unbound).item(bound));
        components
            .schemas
            .insert("CreateRequest".to_string(), schema.into());
    }
}

/// The binding a key is created with: none without `client`.
fn binding(req: &CreateRequest, role: Role) -> Result<Option<Binding>, ApiError> {
    let invalid = |m: &str| ApiError::unprocessable("invalid_binding", m.to_string());
    let Some(client) = req.client.as_deref() else {
        if req.campaigns.is_some() || req.may_block_global.is_some_and(|g| g) {
            return Err(invalid(
                "campaigns and may_block_global bind a key to a client: give client too",
            ));
        }
        return Ok(None);
    };
    if !matches!(role, Role::Dialer | Role::Agent) {
        return Err(invalid(
            "a client-bound key is a dialer or an agent: ops and admin keys act for every client",
        ));
    }
    let campaigns: Vec<String> = req.campaigns.iter().flatten().cloned().collect();
    Binding::new(client, &campaigns, req.may_block_global.unwrap_or(false))
        .map(Some)
        .map_err(|e| ApiError::unprocessable("invalid_scope", e.0))
}

/// Every key, without secrets.
#[utoipa::path(
    get,
    operation_id = "list_keys",
    path = "/v1/keys",
    tag = "keys",
    extensions(("x-required-role" = json!("admin"))),
    responses((status = 200, description = "The keys, revoked ones included", body = KeyList))
)]
async fn list(
    _caller: AsAdmin,
    State(state): State<AppState>,
    _: NoQuery,
) -> Result<Json<KeyList>, ApiError> {
    let keys: Vec<KeyView> = keys::list(&state.db)
        .await?
        .into_iter()
        .map(KeyView::from)
        .collect();
    Ok(Json(KeyList { keys }))
}

/// Revoke a key: it stops working at once here, within a second on other replicas.
#[utoipa::path(
    delete,
    operation_id = "revoke_key",
    path = "/v1/keys/{id}",
    tag = "keys",
    params(("id" = i64, Path, description = "The key's id")),
    extensions(("x-required-role" = json!("admin"))),
    responses(
        (status = 200, description = "The key, now revoked", body = KeyView),
        (status = 404, description = "No such key (`not_found`)", body = ErrorBody),
        (status = 409, description = "Already revoked (`already_revoked`)", body = ErrorBody),
    )
)]
async fn revoke(
    caller: AsAdmin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    _: NoQuery,
    progress: WriteProgress,
) -> Result<Json<KeyView>, ApiError> {
    progress.writing();
    match keys::revoke(&state.db, caller.0.id, id).await? {
        Revoked::Done(key) => {
            progress.committed();
            let visible = state
                .index
                .refresh_after_write(&state.db, progress.answer_by())
                .await;
            tracing::info!(key_id = id, "api key revoked");
            let mut view = KeyView::from(key);
            view.warnings = written(visible, &state.settings);
            Ok(Json(view))
        }
        Revoked::NotFound => Err(ApiError::not_found(format!("no API key {id}"))),
        Revoked::AlreadyRevoked(_) => Err(ApiError::conflict(
            "already_revoked",
            format!("API key {id} is already revoked"),
        )),
    }
}
