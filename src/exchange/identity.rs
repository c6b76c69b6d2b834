//! The identity stage in the exchange: who calls (at the request headers), and whether
//! they may use the model the route stage resolved.

use super::{no_callout, BodyStage, Exchange, HostView, Next};
use crate::config::Config;
use crate::errors::UserError;
use crate::identity::{Credentials, IdentityError};

/// Names the caller from an authenticated source, then drops the client's credential:
/// it is for the gateway only (the route stage injects the provider's own key).
pub(super) fn identify(
    ex: &mut Exchange,
    config: &Config,
    host: &dyn HostView,
) -> Result<(), UserError> {
    let Some(identity) = &config.identity else {
        return Ok(());
    };
    let authorization = host.request_header("authorization");
    let x_api_key = host.request_header("x-api-key");
    let claims = identity.jwt.as_ref().map(|jwt| {
        let claim = |name: &str| {
            host.property(&[
                "metadata",
                "filter_metadata",
                &jwt.metadata_namespace,
                &jwt.payload_key,
                name,
            ])
        };
        (
            claim(&jwt.consumer_claim),
            jwt.group_claim.as_deref().and_then(claim),
        )
    });
    let trusted = identity.trusted_header.as_ref().map(|t| {
        (
            host.request_header(&t.consumer),
            t.group.as_deref().and_then(|g| host.request_header(g)),
        )
    });
    let creds = Credentials {
        authorization: authorization.as_deref(),
        x_api_key: x_api_key.as_deref(),
        jwt_claims: claims.as_ref().map(|(c, g)| (c.as_deref(), g.as_deref())),
        trusted: trusted.as_ref().map(|(c, g)| (c.as_deref(), g.as_deref())),
    };
    ex.caller = identity.identify(&creds).map_err(|e| match e {
        IdentityError::InvalidKey => {
            UserError::InvalidApiKey("the key is missing or not known to this gateway".into())
        }
        IdentityError::MalformedKey(why) => UserError::InvalidApiKey(why.to_string()),
    })?;
    ex.pending.remove_header("authorization");
    ex.pending.remove_header("x-api-key");
    Ok(())
}

pub(super) const AUTHORIZE: BodyStage = BodyStage {
    name: "authorize",
    run: authorize,
    resume: no_callout,
};

/// The identified consumer may use the routed model.
fn authorize(ex: &mut Exchange, _: &Config, _: &dyn HostView) -> Next {
    let (Some(caller), Some(plan)) = (&ex.caller, &ex.plan) else {
        return Next::Go;
    };
    if caller.consumer.may_use(&plan.model) {
        return Next::Go;
    }
    let model = plan.model.clone();
    Next::Refuse(UserError::ModelNotAllowed { model }, vec![])
}
