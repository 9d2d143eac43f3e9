//! The ClusterAnalysisTemplates shipped in `policies/`: the templates the default policy injects,
//! embedded so that references to them resolve with no flags (in the linter and the webhook).

use super::{Coverage, Lookup};
use crate::manifest::{self, Document, Object};

/// The ClusterAnalysisTemplates shipped in `policies/`, embedded so that references to them
/// resolve with no flags.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "policies/success-rate-nginx.yaml",
        include_str!("../../../../policies/success-rate-nginx.yaml"),
    ),
    (
        "policies/success-rate-istio.yaml",
        include_str!("../../../../policies/success-rate-istio.yaml"),
    ),
    (
        "policies/success-rate-linkerd.yaml",
        include_str!("../../../../policies/success-rate-linkerd.yaml"),
    ),
];

/// The lookup holding the shipped templates.
pub fn lookup() -> Lookup {
    let mut lookup = Lookup::new(Coverage::Shipped);
    for object in templates() {
        lookup.add(&object);
    }
    lookup
}

/// The ClusterAnalysisTemplates shipped in `policies/`, as objects.
pub fn templates() -> Vec<Object> {
    TEMPLATES
        .iter()
        .flat_map(|(_, text)| manifest::parse_text(text).documents)
        .filter_map(|d| match d {
            Document::Object { object, .. } => Some(*object),
            Document::Skipped => None,
        })
        .collect()
}
