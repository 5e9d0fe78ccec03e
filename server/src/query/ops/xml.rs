//! `parseXml()`: an XML document flattened into fields, element names joined by `.` from the
//! root (`<a><b>1</b></a>` → `a.b=1`), attributes as `path.name`, repeated sibling elements as
//! arrays (`a.b[0]`, `a.b[1]`), text of an element as its path.
//! <https://library.humio.com/data-analysis/functions-parsexml.html>

use quick_xml::events::Event;

/// Most fields one document gives (the rest is left out), and the deepest nesting read.
const MAX_FIELDS: usize = 10_000;
const MAX_DEPTH: usize = 64;

#[derive(Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

/// The fields of `doc` under `prefix`; `None` when it is not well-formed XML.
pub fn flatten_xml(doc: &str, prefix: &str) -> Option<Vec<(String, String)>> {
    let mut reader = quick_xml::Reader::from_str(doc);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return None;
                }
                stack.push(element(&e)?);
            }
            Event::Empty(e) => {
                let n = element(&e)?;
                stack.last_mut()?.children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop()?;
                stack.last_mut()?.children.push(n);
            }
            Event::Text(t) => stack.last_mut()?.text.push_str(&t.xml_content().ok()?),
            Event::CData(t) => stack.last_mut()?.text.push_str(&t.decode().ok()?),
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().ok()?;
                        quick_xml::escape::resolve_predefined_entity(&name)?.to_string()
                    }
                };
                stack.last_mut()?.text.push_str(&s);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return None;
    }
    let root = stack.pop()?;
    let mut out = Vec::new();
    for (name, n) in named(&root.children) {
        flatten(n, &format!("{prefix}{name}"), &mut out);
    }
    Some(out)
}

fn element(e: &quick_xml::events::BytesStart) -> Option<Node> {
    let name = String::from_utf8(e.name().as_ref().to_vec()).ok()?;
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.ok()?;
        let k = String::from_utf8(a.key.as_ref().to_vec()).ok()?;
        attrs.push((k, a.unescape_value().ok()?.into_owned()));
    }
    Some(Node {
        name,
        attrs,
        ..Node::default()
    })
}

/// Children with their field names: `name`, or `name[i]` when the name repeats.
fn named(children: &[Node]) -> Vec<(String, &Node)> {
    let mut total: std::collections::HashMap<&str, usize> = Default::default();
    for c in children {
        *total.entry(&c.name).or_default() += 1;
    }
    let mut next: std::collections::HashMap<&str, usize> = Default::default();
    children
        .iter()
        .map(|c| {
            let name = if total[c.name.as_str()] > 1 {
                let i = next.entry(&c.name).or_default();
                *i += 1;
                format!("{}[{}]", c.name, *i - 1)
            } else {
                c.name.clone()
            };
            (name, c)
        })
        .collect()
}

fn flatten(n: &Node, path: &str, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_FIELDS {
        return;
    }
    for (k, v) in &n.attrs {
        out.push((format!("{path}.{k}"), v.clone()));
    }
    let text = n.text.trim();
    if !text.is_empty() || (n.children.is_empty() && n.attrs.is_empty()) {
        out.push((path.to_string(), text.to_string()));
    }
    for (name, c) in named(&n.children) {
        flatten(c, &format!("{path}.{name}"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens() {
        let f = flatten_xml(
            r#"<log id="7"><svc>pay &amp; bill</svc><ip>1</ip><ip>2</ip><empty/></log>"#,
            "",
        )
        .unwrap();
        assert!(f.contains(&("log.id".into(), "7".into())));
        assert!(f.contains(&("log.svc".into(), "pay & bill".into())));
        assert!(f.contains(&("log.ip[0]".into(), "1".into())));
        assert!(f.contains(&("log.ip[1]".into(), "2".into())));
        assert!(f.contains(&("log.empty".into(), "".into())));
        assert_eq!(
            flatten_xml("<a>x</a>", "p.").unwrap(),
            vec![("p.a".to_string(), "x".to_string())]
        );
        assert!(flatten_xml("<a><b></a>", "").is_none());
        assert!(flatten_xml(&"<a>".repeat(100), "").is_none());
    }
}
