//! XML documents COS sends and receives (pure).

use serde::Deserialize;

/// Escapes text for an XML element or attribute.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A small document writer: `<Root>` then elements then `</Root>`.
#[derive(Debug)]
pub(crate) struct Doc {
    out: String,
}

impl Doc {
    pub(crate) fn new(root: &str) -> Self {
        Doc {
            out: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}>"),
        }
    }

    /// `<tag>value</tag>`, escaped.
    pub(crate) fn el(&mut self, tag: &str, value: impl std::fmt::Display) -> &mut Self {
        let v = value.to_string();
        self.out.push_str(&format!("<{tag}>{}</{tag}>", escape(&v)));
        self
    }

    pub(crate) fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push_str(&format!("<{tag}>"));
        self
    }

    pub(crate) fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str(&format!("</{tag}>"));
        self
    }

    /// The owner / initiator block COS puts in listings.
    pub(crate) fn owner(&mut self, tag: &str, id: &str) -> &mut Self {
        self.open(tag).el("ID", id).el("DisplayName", id).close(tag)
    }

    pub(crate) fn finish(mut self, root: &str) -> String {
        self.out.push_str(&format!("</{root}>"));
        self.out
    }
}

/// `<CompleteMultipartUpload>` body.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct CompleteRequest {
    #[serde(rename = "Part", default)]
    pub(crate) parts: Vec<CompletePart>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct CompletePart {
    #[serde(rename = "PartNumber")]
    pub(crate) number: u32,
    #[serde(rename = "ETag")]
    pub(crate) etag: String,
}

/// `<Delete>` body of DeleteMultipleObjects.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct DeleteRequest {
    #[serde(rename = "Quiet", default)]
    pub(crate) quiet: bool,
    #[serde(rename = "Object", default)]
    pub(crate) objects: Vec<DeleteEntry>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct DeleteEntry {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "VersionId", default)]
    pub(crate) version_id: Option<String>,
}

/// Parses a request document, naming what was wrong.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the XML body is not UTF-8".to_string())?;
    quick_xml::de::from_str(text)
        .map_err(|e| format!("the XML body is not well-formed or not valid: {e}"))
}

/// An ETag as compared: without quotes and surrounding spaces.
pub(crate) fn bare_etag(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_with_escaped_quotes() {
        let body = br#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;abc&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"def"</ETag></Part></CompleteMultipartUpload>"#;
        let req: CompleteRequest = parse(body).unwrap();
        assert_eq!(req.parts.len(), 2);
        assert_eq!(bare_etag(&req.parts[0].etag), "abc");
        assert_eq!(req.parts[1].number, 2);
        assert!(parse::<CompleteRequest>(b"<CompleteMultipartUpload><Part>").is_err());
    }

    #[test]
    fn parses_delete() {
        let body = b"<Delete><Quiet>true</Quiet><Object><Key>a b</Key></Object><Object><Key>c&amp;d</Key><VersionId>v</VersionId></Object></Delete>";
        let req: DeleteRequest = parse(body).unwrap();
        assert!(req.quiet);
        assert_eq!(req.objects[1].key, "c&d");
        assert_eq!(req.objects[1].version_id.as_deref(), Some("v"));
        let req: DeleteRequest = parse(b"<Delete><Object><Key>k</Key></Object></Delete>").unwrap();
        assert!(!req.quiet);
    }

    #[test]
    fn doc_escapes() {
        let mut d = Doc::new("R");
        d.el("Key", "a<&>\"'");
        assert!(d
            .finish("R")
            .ends_with("<R><Key>a&lt;&amp;&gt;&quot;&apos;</Key></R>"));
    }
}
