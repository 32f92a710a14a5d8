//! The methods each known path answers, so that a known path asked with another method is
//! told `405` and what it does answer (`Allow`), not `404`.

use actix_web::dev::ResourceDef;
use actix_web::http::Method;

/// Path templates with the methods they answer: the API document's paths, plus the few routes
/// it leaves out.
#[derive(Debug, Default)]
pub struct KnownRoutes(Vec<(ResourceDef, Vec<Method>)>);

/// Routes served outside the API document (aliases, the documentation itself).
const UNDOCUMENTED: &[(&str, &str)] = &[
    ("/jobs/ws", "GET"),
    ("/jobs/ws/{id}", "GET"),
    ("/docs", "GET"),
    ("/docs/{tail:.*}", "GET"),
];

impl KnownRoutes {
    /// The routes of `api` and [`UNDOCUMENTED`].
    pub fn of(api: &utoipa::openapi::OpenApi) -> Self {
        let mut routes: Vec<(ResourceDef, Vec<Method>)> = api
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::HEAD, item.head.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                    (Method::OPTIONS, item.options.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                (ResourceDef::new(template.as_str()), methods)
            })
            .collect();
        for (template, method) in UNDOCUMENTED {
            if let Ok(method) = Method::from_bytes(method.as_bytes()) {
                routes.push((ResourceDef::new(*template), vec![method]));
            }
        }
        Self(routes)
    }

    /// The methods `path` answers, in a stable order; empty for an unknown path. A path
    /// that is a template without parameters (`/library/sync`) answers only that template's
    /// methods, not also those of a template it has the shape of (`/library/{asin}`): as in
    /// the API document, the literal path is the more specific.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        let literal = self
            .0
            .iter()
            .any(|(t, _)| t.is_match(path) && is_literal(t));
        let mut allowed: Vec<Method> = Vec::new();
        for (template, methods) in &self.0 {
            if template.is_match(path) && (!literal || is_literal(template)) {
                for method in methods {
                    if !allowed.contains(method) {
                        allowed.push(method.clone());
                    }
                }
            }
        }
        allowed.sort_by_key(|m| m.as_str().to_owned());
        allowed
    }

    /// The methods of `path` when it is a template without parameters; `None` otherwise.
    pub fn literal(&self, path: &str) -> Option<Vec<Method>> {
        self.0
            .iter()
            .any(|(t, _)| is_literal(t) && t.is_match(path))
            .then(|| self.allowed(path))
    }
}

fn is_literal(template: &ResourceDef) -> bool {
    !template.pattern().is_some_and(|p| p.contains('{'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_their_paths_only() {
        let routes = KnownRoutes(vec![
            (
                ResourceDef::new("/library/{asin}"),
                vec![Method::GET, Method::DELETE],
            ),
            (ResourceDef::new("/library/sync"), vec![Method::POST]),
        ]);
        assert_eq!(
            routes.allowed("/library/sync"),
            vec![Method::POST],
            "the literal path, not /library/{{asin}} whose shape it also has"
        );
        assert_eq!(routes.literal("/library/sync"), Some(vec![Method::POST]));
        assert_eq!(routes.literal("/library/B000000001"), None);
        assert_eq!(
            routes.allowed("/library/B000000001"),
            vec![Method::DELETE, Method::GET]
        );
        assert!(routes.allowed("/library/B000000001/nothing").is_empty());
        assert!(routes.allowed("/elsewhere").is_empty());
    }
}
