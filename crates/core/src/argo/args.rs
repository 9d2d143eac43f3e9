//! Argo Rollouts template tags: `{{args.name}}`, with or without spaces inside the braces.

use std::borrow::Cow;

/// One `{{args.NAME}}` tag in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Byte range of the whole tag, braces included.
    pub start: usize,
    pub end: usize,
    /// The argument's name.
    pub name: &'a str,
}

/// Every `{{args.NAME}}` tag in `text`, in order. Argo trims the inside of a tag, so
/// `{{ args.x }}` and `{{args.x}}` are the same tag.
pub fn tags(text: &str) -> Vec<Tag<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| i + from) {
        let Some(close) = text[open + 2..].find("}}").map(|i| i + open + 2) else {
            break;
        };
        let inner = text[open + 2..close].trim();
        if let Some(name) = inner.strip_prefix("args.") {
            out.push(Tag {
                start: open,
                end: close + 2,
                name,
            });
        }
        from = close + 2;
    }
    out
}

/// True when `text` holds a template tag of any kind, so its final value is only known when
/// Argo resolves it.
pub fn is_templated(text: &str) -> bool {
    text.contains("{{")
}

/// Replaces every args tag with what `value` gives for it.
pub fn substitute<'a>(text: &'a str, mut value: impl FnMut(&Tag) -> String) -> Cow<'a, str> {
    let tags = tags(text);
    if tags.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for tag in &tags {
        out.push_str(&text[last..tag.start]);
        out.push_str(&value(tag));
        last = tag.end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_does_not_matter() {
        let t = tags("a {{args.x}} b {{ args.y }} {{ secrets.z }}");
        assert_eq!(t.iter().map(|t| t.name).collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(
            substitute("q{{ args.x }}q", |t| t.name.to_uppercase()),
            "qXq"
        );
    }

    #[test]
    fn unterminated_tag_is_left_alone() {
        assert!(tags("{{args.x").is_empty());
    }
}
