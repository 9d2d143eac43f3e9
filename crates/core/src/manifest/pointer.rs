//! RFC 6901 JSON Pointers, the one way findings and patches name a place in an object. The
//! escaping (`~0`, `~1`) is jsonptr's, the crate json-patch builds on.

use json_patch::jsonptr::Token;

/// An object's `metadata`.
pub const METADATA: &str = "/metadata";
/// An object's name, where findings about the object as a whole point.
pub const NAME: &str = "/metadata/name";
/// An object's annotations.
pub const ANNOTATIONS: &str = "/metadata/annotations";

/// The reference tokens of `pointer`, decoded (`/a~1b/0` gives `a/b`, `0`). A token that is not
/// valid RFC 6901 (a `~` not followed by `0` or `1`) is taken as written.
pub fn tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer.split('/').skip(1).map(decode)
}

/// One reference token decoded.
pub fn decode(raw: &str) -> String {
    Token::from_encoded(raw).map_or_else(|_| raw.to_string(), |t| t.decoded().into_owned())
}

/// `at` extended by the object key `key`, escaped.
pub fn child(at: &str, key: &str) -> String {
    format!("{at}/{}", Token::new(key).encoded())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_decodes_as_rfc_6901() {
        assert_eq!(
            child("/metadata/annotations", "rollout-guard.io/mutated"),
            "/metadata/annotations/rollout-guard.io~1mutated"
        );
        assert_eq!(child("", "a~b"), "/a~0b");
        assert_eq!(
            tokens("/f~1g/~01/0").collect::<Vec<_>>(),
            ["f/g", "~1", "0"]
        );
        assert_eq!(decode("~2"), "~2");
    }
}
