//! A small XML tree built from `quick-xml` events, parsed strictly (what XmlSimple's
//! REXML accepts) or in recover mode (what libxml2/Nokogiri does by default: mismatched
//! end tags close up to the matching ancestor or are ignored, duplicate attributes keep
//! the first, unknown entities stay as text, a truncated document keeps what was read).

use quick_xml::events::{BytesStart, Event as XmlEvent};
use quick_xml::Reader;

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Element(Element),
    Text(String),
    Comment(String),
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Element {
    /// The qualified name as written (`h:div`).
    pub name: String,
    /// Attributes as written, namespace declarations (`xmlns`, `xmlns:h`) included.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Element {
    /// The name without its prefix.
    pub fn local_name(&self) -> &str {
        self.name.rsplit_once(':').map_or(&self.name, |(_, l)| l)
    }

    pub fn has_elements(&self) -> bool {
        self.children.iter().any(|c| matches!(c, Node::Element(_)))
    }

    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.children.iter().filter_map(|c| match c {
            Node::Text(t) => Some(t.as_str()),
            _ => None,
        })
    }

    /// Nokogiri's `remove_namespaces!`: prefixes and namespace declarations go.
    pub fn remove_namespaces(&mut self) {
        if let Some((_, l)) = self.name.rsplit_once(':') {
            self.name = l.to_string();
        }
        self.attrs
            .retain(|(k, _)| k != "xmlns" && !k.starts_with("xmlns:"));
        for (k, _) in &mut self.attrs {
            if let Some((_, l)) = k.rsplit_once(':') {
                *k = l.to_string();
            }
        }
        for c in &mut self.children {
            if let Node::Element(e) = c {
                e.remove_namespaces();
            }
        }
    }
}

/// Why a document was rejected in strict mode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct XmlError(pub String);

fn err(e: impl std::fmt::Display) -> XmlError {
    XmlError(e.to_string())
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

fn element(start: &BytesStart, strict: bool) -> Result<Element, XmlError> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut it = start.attributes();
    it.with_checks(strict);
    for a in it {
        let a = match a {
            Ok(a) => a,
            Err(e) if strict => return Err(err(e)),
            Err(_) => continue,
        };
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = match a.unescape_value() {
            Ok(v) => v.into_owned(),
            Err(e) if strict => return Err(err(e)),
            Err(_) => String::from_utf8_lossy(&a.value).into_owned(),
        };
        if attrs.iter().any(|(k, _)| *k == key) {
            if strict {
                return Err(XmlError(format!("duplicate attribute {key}")));
            }
            continue;
        }
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Appends text, merging with a preceding text node (entities arrive separately).
fn push_text(el: &mut Element, text: &str) {
    if let Some(Node::Text(t)) = el.children.last_mut() {
        t.push_str(text);
    } else {
        el.children.push(Node::Text(text.to_string()));
    }
}

/// Parses `text`; `Ok(None)` in recover mode when no root element was found.
pub fn parse(text: &str, strict: bool) -> Result<Option<Element>, XmlError> {
    let mut reader = Reader::from_str(text);
    {
        let c = reader.config_mut();
        c.check_end_names = false;
        c.allow_unmatched_ends = !strict;
        c.allow_dangling_amp = !strict;
        c.check_comments = strict;
    }
    // The open elements; index 0 is a synthetic document node.
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut root_done = false;
    loop {
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) if strict => return Err(err(e)),
            // Recover: keep what was read.
            Err(_) => break,
        };
        if root_done && !matches!(ev, XmlEvent::Eof | XmlEvent::Comment(_) | XmlEvent::PI(_)) {
            let blank = matches!(&ev, XmlEvent::Text(t) if t.iter().all(u8::is_ascii_whitespace));
            if blank {
                continue;
            }
            if strict {
                return Err(XmlError("extra content at the end of the document".into()));
            }
            break;
        }
        match ev {
            XmlEvent::Start(s) => stack.push(element(&s, strict)?),
            XmlEvent::Empty(s) => {
                let el = element(&s, strict)?;
                close(&mut stack, el, &mut root_done, strict)?;
            }
            XmlEvent::End(e) => {
                let name = e.name();
                let name = String::from_utf8_lossy(name.as_ref());
                match stack.iter().rposition(|el| el.name == name) {
                    Some(i) if i > 0 => {
                        if strict && i != stack.len() - 1 {
                            return Err(XmlError(format!("mismatched end tag </{name}>")));
                        }
                        while stack.len() > i {
                            let Some(el) = stack.pop() else { break };
                            close(&mut stack, el, &mut root_done, strict)?;
                        }
                    }
                    _ if strict => return Err(XmlError(format!("unexpected end tag </{name}>"))),
                    _ => {}
                }
            }
            XmlEvent::Text(t) => {
                let s = t.decode().map_err(err)?;
                if stack.len() == 1 {
                    if strict && !s.trim().is_empty() {
                        return Err(XmlError("text outside the root element".into()));
                    }
                } else if let Some(top) = stack.last_mut() {
                    push_text(top, &s);
                }
            }
            XmlEvent::CData(c) => {
                let s = c.decode().map_err(err)?;
                if stack.len() > 1 {
                    if let Some(top) = stack.last_mut() {
                        push_text(top, &s);
                    }
                }
            }
            XmlEvent::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => entity(&r.decode().map_err(err)?),
                    Err(e) if strict => return Err(err(e)),
                    Err(_) => None,
                };
                let text = match resolved {
                    Some(c) => c.to_string(),
                    None if strict => {
                        return Err(XmlError(format!(
                            "undefined entity &{};",
                            String::from_utf8_lossy(&r)
                        )))
                    }
                    None => format!("&{};", String::from_utf8_lossy(&r)),
                };
                if stack.len() > 1 {
                    if let Some(top) = stack.last_mut() {
                        push_text(top, &text);
                    }
                }
            }
            XmlEvent::Comment(c) => {
                if stack.len() > 1 {
                    let s = c.decode().map_err(err)?.into_owned();
                    if let Some(top) = stack.last_mut() {
                        top.children.push(Node::Comment(s));
                    }
                }
            }
            XmlEvent::Eof => break,
            XmlEvent::Decl(_) | XmlEvent::PI(_) | XmlEvent::DocType(_) => {}
        }
    }
    if stack.len() > 1 {
        if strict {
            return Err(XmlError(
                "unclosed element at the end of the document".into(),
            ));
        }
        while stack.len() > 1 {
            let Some(el) = stack.pop() else { break };
            close(&mut stack, el, &mut root_done, strict)?;
        }
    }
    let root = stack.pop().and_then(|doc| {
        doc.children.into_iter().find_map(|c| match c {
            Node::Element(e) => Some(e),
            _ => None,
        })
    });
    if root.is_none() && strict {
        return Err(XmlError("no root element".into()));
    }
    Ok(root)
}

/// Attaches a finished element to its parent (or ends the document at the root).
fn close(
    stack: &mut [Element],
    el: Element,
    root_done: &mut bool,
    _strict: bool,
) -> Result<(), XmlError> {
    let depth = stack.len();
    if let Some(parent) = stack.last_mut() {
        parent.children.push(Node::Element(el));
        if depth == 1 {
            *root_done = true;
        }
    }
    Ok(())
}

/// Escapes text content as libxml2 serializes it.
pub fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value as libxml2 serializes it.
pub fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rejects_what_recover_repairs() {
        for bad in [
            "<foo /",
            "<a><b></a>",
            "<a x='1' x='2'/>",
            "<a>&nbsp;</a>",
            "<a/><b/>",
            "text",
            "<a>",
        ] {
            assert!(parse(bad, true).is_err(), "strict accepted {bad:?}");
            assert!(parse(bad, false).is_ok(), "recover failed on {bad:?}");
        }
        let r = parse("<e><f1>b</f1><f3>e3f<f3></e>", false)
            .unwrap()
            .unwrap();
        assert_eq!(r.name, "e");
        assert_eq!(r.children.len(), 2);
        let r = parse("<a x='1' x='2'/>", false).unwrap().unwrap();
        assert_eq!(r.attrs, vec![("x".to_string(), "1".to_string())]);
    }

    #[test]
    fn entities_and_cdata() {
        let r = parse("<a t=\"&lt;&#65;\">x &amp; y<![CDATA[<z>]]></a>", true)
            .unwrap()
            .unwrap();
        assert_eq!(r.attrs[0].1, "<A");
        assert_eq!(r.texts().collect::<String>(), "x & y<z>");
    }

    #[test]
    fn remove_namespaces_strips_prefixes() {
        let mut r = parse("<a xmlns:h='u'><h:b h:c='1'/></a>", true)
            .unwrap()
            .unwrap();
        r.remove_namespaces();
        let Node::Element(b) = &r.children[0] else {
            panic!()
        };
        assert_eq!(b.name, "b");
        assert_eq!(b.attrs, vec![("c".to_string(), "1".to_string())]);
        assert!(r.attrs.is_empty());
    }
}
