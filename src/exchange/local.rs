//! Endpoints the gateway answers itself: the models the caller may use, and Anthropic's
//! `count_tokens` from the gateway's own counter.

use serde_json::{json, Value};

use super::{Exchange, LocalReply};
use crate::api::query::query_param;
use crate::config::Config;
use crate::errors::UserError;
use crate::providers::{anthropic, parse_object};
use crate::route::catalog;
use crate::tokens;

/// `GET /v1/models` (`id: None`) or `GET /v1/models/{id}`, in OpenAI's shape or, when
/// `anthropic` (the request carries `anthropic-version`), in Anthropic's: a page of
/// `limit` models after `after_id` or before `before_id`, as its SDK pages.
pub(super) fn models(
    ex: &Exchange,
    config: &Config,
    id: Option<&str>,
    anthropic: bool,
) -> Result<LocalReply, UserError> {
    let priced = config.usage.iter().flat_map(|u| u.prices.models());
    let may_use = |model: &str| ex.caller.as_ref().is_none_or(|c| c.consumer.may_use(model));
    let models: Vec<catalog::CatalogModel> = catalog::models(config.route.as_ref(), priced)
        .into_iter()
        .filter(|m| may_use(&m.id))
        .collect();
    let shape = |m: &catalog::CatalogModel| {
        if anthropic {
            json!({"type": "model", "id": m.id, "display_name": m.id,
                   "created_at": "1970-01-01T00:00:00Z"})
        } else {
            json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by})
        }
    };
    let body = match id {
        Some(id) => match models.iter().find(|m| m.id == id) {
            Some(m) => shape(m),
            None => return Err(UserError::ModelNotFound { model: id.into() }),
        },
        None if anthropic => {
            let (page, has_more) = anthropic_page(&models, &ex.path)?;
            json!({
                "data": page.iter().map(shape).collect::<Vec<Value>>(),
                "has_more": has_more,
                "first_id": page.first().map(|m| m.id.clone()),
                "last_id": page.last().map(|m| m.id.clone()),
            })
        }
        None => json!({"object": "list", "data": models.iter().map(shape).collect::<Vec<Value>>()}),
    };
    Ok(ok(body, vec![]))
}

/// Anthropic's page of the catalog (sorted by id) that the query asks for: `limit` (1 to
/// 1000, default 20) models after `after_id`, or the last `limit` before `before_id`, and
/// whether more lie that way. The ids are cursors by their order, so a page still follows
/// when its id left the catalog in between.
fn anthropic_page<'m>(
    models: &'m [catalog::CatalogModel],
    path: &str,
) -> Result<(&'m [catalog::CatalogModel], bool), UserError> {
    let limit = match query_param(path, "limit") {
        None => 20,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| UserError::InvalidRequest {
                message: format!("`limit` must be an integer from 1 to 1000 (got {v:?})"),
                param: Some("limit".into()),
            })?,
    };
    if let Some(before) = query_param(path, "before_id") {
        let end = models.partition_point(|m| m.id < before);
        let start = end.saturating_sub(limit);
        return Ok((&models[start..end], start > 0));
    }
    let start = match query_param(path, "after_id") {
        Some(after) => models.partition_point(|m| m.id <= after),
        None => 0,
    };
    let end = (start + limit).min(models.len());
    Ok((&models[start..end], end < models.len()))
}

/// `POST /v1/messages/count_tokens`: the input tokens of a Messages request, by the
/// gateway's counter. For Claude models that is an estimate (Anthropic's tokenizer is not
/// public), said in `x-llm-input-accuracy`.
pub(super) fn count_tokens(
    ex: &Exchange,
    body: &[u8],
) -> Result<(LocalReply, String, u64), UserError> {
    let req = parse_object(body)?;
    let model = anthropic::validate_prompt(&req)?;
    if let Some(c) = &ex.caller {
        if !c.consumer.may_use(&model) {
            return Err(UserError::ModelNotAllowed { model });
        }
    }
    let n = tokens::count_anthropic_messages(&req);
    let headers = vec![("x-llm-input-accuracy".to_string(), "estimate".to_string())];
    Ok((ok(json!({ "input_tokens": n }), headers), model, n))
}

fn ok(body: Value, headers: Vec<(String, String)>) -> LocalReply {
    LocalReply {
        status: 200,
        headers,
        body: body.to_string().into_bytes(),
    }
}
