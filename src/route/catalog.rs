//! The models this gateway serves, for `GET /v1/models`: the public aliases, the `auto`
//! aliases, the models of the fallback chain, and every model of the price table that a
//! provider serves.

use std::collections::BTreeMap;

use super::config::Route;

/// One model of the catalog and who serves it (OpenAI's `owned_by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogModel {
    pub id: String,
    pub owned_by: String,
}

/// The catalog, sorted by id; `priced` are the price table's models. Without a route
/// section each is served by whatever Envoy's route picks (`owned_by: llm-gateway`).
pub fn models<'a>(
    route: Option<&Route>,
    priced: impl Iterator<Item = &'a str>,
) -> Vec<CatalogModel> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    if let Some(route) = route {
        for (public, (provider, _)) in &route.aliases {
            out.insert(public.clone(), route.providers[*provider].name.clone());
        }
        for alias in route.auto.iter().flat_map(|a| a.aliases.keys()) {
            out.insert(alias.clone(), "llm-gateway".to_string());
        }
        for (model, chain) in route
            .fallback
            .iter()
            .flat_map(|f| f.models.keys().map(move |m| (m, &f.name)))
        {
            out.insert(model.clone(), chain.clone());
        }
    }
    for model in priced {
        if out.contains_key(model) {
            continue;
        }
        let owner = match route {
            Some(r) => {
                let claimed = r.providers.iter().find(|p| {
                    !p.missing_key && p.models.iter().any(|m| model.starts_with(m.as_str()))
                });
                claimed
                    .unwrap_or(&r.providers[r.default_provider])
                    .name
                    .clone()
            }
            None => "llm-gateway".to_string(),
        };
        out.insert(model.to_string(), owner);
    }
    out.into_iter()
        .map(|(id, owned_by)| CatalogModel { id, owned_by })
        .collect()
}
