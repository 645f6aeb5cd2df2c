//! Reading a saved web page (an article, a blog post) into an [`Essay`], with a real HTML parser: html5ever,
//! through scraper's tree. The title comes from the article's `<h1>` (or `<title>`); headings keep their
//! level; paragraphs, lists, block quotes and footnotes are read as in Markdown. Navigation, scripts, styles,
//! asides, footers, forms and the like are skipped, with their count in one warning.

use std::cell::{Cell, Ref, RefCell};
use std::collections::{BTreeMap, HashMap};

use ego_tree::{NodeId, NodeRef};
use html5ever::interface::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::{Attribute, QualName};
use scraper::{Html, HtmlTreeSink, Node};

use super::notes::{Note, Notes};
use super::{pause_mark, tidy, Essay, Heading, Pause, Skipped};

/// scraper's tree builder, noting the source line each element starts on (scraper keeps no positions).
struct LineSink {
    inner: HtmlTreeSink,
    line: Cell<u64>,
    lines: RefCell<HashMap<NodeId, usize>>,
}

impl TreeSink for LineSink {
    type Handle = NodeId;
    type Output = (Html, HashMap<NodeId, usize>);
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Self::Output {
        (self.inner.finish(), self.lines.into_inner())
    }
    fn parse_error(&self, msg: std::borrow::Cow<'static, str>) {
        self.inner.parse_error(msg)
    }
    fn get_document(&self) -> NodeId {
        self.inner.get_document()
    }
    fn elem_name<'a>(&'a self, target: &'a NodeId) -> Ref<'a, QualName> {
        self.inner.elem_name(target)
    }
    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> NodeId {
        let id = self.inner.create_element(name, attrs, flags);
        self.lines
            .borrow_mut()
            .insert(id, self.line.get().max(1) as usize);
        id
    }
    fn create_comment(&self, text: StrTendril) -> NodeId {
        self.inner.create_comment(text)
    }
    fn create_pi(&self, target: StrTendril, data: StrTendril) -> NodeId {
        self.inner.create_pi(target, data)
    }
    fn append(&self, parent: &NodeId, child: NodeOrText<NodeId>) {
        self.inner.append(parent, child)
    }
    fn append_based_on_parent_node(
        &self,
        element: &NodeId,
        prev_element: &NodeId,
        child: NodeOrText<NodeId>,
    ) {
        self.inner
            .append_based_on_parent_node(element, prev_element, child)
    }
    fn append_doctype_to_document(&self, name: StrTendril, public: StrTendril, system: StrTendril) {
        self.inner.append_doctype_to_document(name, public, system)
    }
    fn mark_script_already_started(&self, node: &NodeId) {
        self.inner.mark_script_already_started(node)
    }
    fn get_template_contents(&self, target: &NodeId) -> NodeId {
        self.inner.get_template_contents(target)
    }
    fn same_node(&self, x: &NodeId, y: &NodeId) -> bool {
        self.inner.same_node(x, y)
    }
    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.inner.set_quirks_mode(mode)
    }
    fn append_before_sibling(&self, sibling: &NodeId, new_node: NodeOrText<NodeId>) {
        self.inner.append_before_sibling(sibling, new_node)
    }
    fn add_attrs_if_missing(&self, target: &NodeId, attrs: Vec<Attribute>) {
        self.inner.add_attrs_if_missing(target, attrs)
    }
    fn remove_from_parent(&self, target: &NodeId) {
        self.inner.remove_from_parent(target)
    }
    fn reparent_children(&self, node: &NodeId, new_parent: &NodeId) {
        self.inner.reparent_children(node, new_parent)
    }
    fn set_current_line(&self, line: u64) {
        self.line.set(line)
    }
}

/// Elements that are the page around the article, not the article: skipped and counted.
const PAGE_PARTS: &[&str] = &[
    "nav", "script", "style", "aside", "footer", "form", "noscript", "iframe", "svg", "button",
    "select", "input", "textarea", "canvas", "video", "audio", "object", "embed", "menu", "dialog",
    "template", "link", "meta",
];

/// Elements that start a block of their own (everything else is inline text).
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "hgroup",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "pre",
    "table",
    "figure",
    "address",
    "details",
    "summary",
    "body",
    "center",
    "fieldset",
    "legend",
];

fn is_footnotes_block(el: &scraper::node::Element) -> bool {
    el.classes().any(|c| c.contains("footnote"))
        || el
            .attr("role")
            .is_some_and(|r| r.contains("endnotes") || r.contains("footnotes"))
}

/// A link to a note ("<sup><a href="#fn1">1</a></sup>") or back from one ("↩").
fn is_note_link(el: &scraper::node::Element) -> bool {
    let href = el.attr("href").unwrap_or("");
    el.name() == "a"
        && href.starts_with('#')
        && (el
            .classes()
            .any(|c| c.contains("footnote") || c.contains("backref"))
            || href.starts_with("#fn")
            || href.contains("footnote")
            || el.attr("role").is_some_and(|r| r.contains("noteref")))
}

/// The class and id words of an element, lower-cased: `class="md-sidebar toc"` gives md, sidebar, toc.
fn marks(el: &scraper::node::Element) -> Vec<String> {
    el.classes()
        .chain(el.id())
        .flat_map(|c| c.split(|ch: char| !ch.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Whether an element is a permalink beside a heading (Sphinx's `¶`, `#`, `§`, `🔗` anchors).
fn is_permalink(el: &scraper::node::Element, text: &str) -> bool {
    let marks = marks(el);
    el.name() == "a"
        && (marks.iter().any(|m| {
            matches!(
                m.as_str(),
                "headerlink" | "anchor" | "permalink" | "anchorjs" | "hash" | "headeranchor"
            ) || m.ends_with("anchor")
        }) || (el.attr("href").is_some_and(|h| h.starts_with('#'))
            && matches!(
                text.trim(),
                "¶" | "#" | "§" | "🔗" | "∞" | "⚓" | "link" | "permalink"
            )))
}

/// Text that is page furniture wherever it stands: "Show Source", "Edit this page", "Previous topic"…
fn is_furniture_text(text: &str) -> bool {
    static FURNITURE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    FURNITURE
        .get_or_init(|| {
            regex::Regex::new(
                r"(?i)^(?:(?:show|view|view page) source|edit (?:this page|on \w+|page)|improve this (?:page|doc)|report (?:an? )?(?:issue|bug)|back to top|skip to (?:main )?content|(?:table of )?contents|on this page|this page|navigation|quick search|(?:previous|next)(?: topic| page| chapter)?|« previous|next »|share(?: this)?(?: on \w+)?|tweet|print(?: this page)?|index|modules|theme|auto|light|dark|accept(?: all)?(?: cookies)?|reject(?: all)?|(?:up|home|prev|next)(?: \| (?:up|home|prev|next))*)[\s|:»«›‹→←]*$",
            )
            .expect("valid pattern")
        })
        .is_match(text.trim())
}

/// Page chrome by its marks (role, class, id, hiding): the name it is counted under, or `None` for content.
fn chrome(node: NodeRef<Node>, el: &scraper::node::Element) -> Option<&'static str> {
    if PAGE_PARTS.contains(&el.name()) {
        return Some(match el.name() {
            "nav" => "nav",
            "script" => "script",
            "style" => "style",
            "aside" => "aside",
            "footer" => "footer",
            "form" => "form",
            _ => "other element",
        });
    }
    let has_h1 = || {
        node.descendants()
            .any(|d| d.value().as_element().is_some_and(|e| e.name() == "h1"))
    };
    if el.name() == "header" && !has_h1() {
        return Some("header");
    }
    if el.attr("hidden").is_some()
        || el.attr("aria-hidden") == Some("true")
        || el
            .attr("style")
            .is_some_and(|s| s.replace(' ', "").contains("display:none"))
    {
        return Some("hidden");
    }
    if let Some(role) = el.attr("role") {
        match role {
            "navigation" | "menu" | "menubar" | "toolbar" | "search" => return Some("navigation"),
            "banner" if !has_h1() => return Some("header"),
            "contentinfo" => return Some("footer"),
            "complementary" => return Some("aside"),
            _ => {}
        }
    }
    for m in marks(el) {
        let kind = match m.as_str() {
            m if m.starts_with("nav") && m != "navy" => "navigation",
            m if m.contains("sidebar") || m == "sidenav" => "sidebar",
            m if m.contains("breadcrumb") => "breadcrumbs",
            "related" | "rellinks" | "relbar" | "relbar1" | "relbar2" | "toc" | "toctree"
            | "menu" | "search" | "searchbox" | "skip" | "skiplink" => "navigation",
            m if m.contains("footer") => "footer",
            "header" | "masthead" | "topbar" | "banner" if !has_h1() => "header",
            m if m.contains("cookie") || m == "consent" || m == "gdpr" => "cookie banner",
            "share" | "sharing" | "social" | "addthis" | "sharethis" => "share buttons",
            "edit" | "editlink" | "editpage" | "github" => "edit link",
            "pagination" | "pager" | "prev" | "next" | "previous" | "prevnext" => {
                "previous/next links"
            }
            "headerlink" | "permalink" => "permalink",
            "sr" | "screenreader" | "visuallyhidden" | "hidden" | "noprint" => "hidden",
            "comments" | "respond" => "comments",
            "advert" | "ads" | "promo" | "newsletter" | "subscribe" => "advert",
            "feedback" | "rating" => "feedback",
            _ => continue,
        };
        if el.name() != "body" && el.name() != "html" {
            return Some(kind);
        }
    }
    None
}

/// The length of the text in a subtree and of the part of it inside links.
fn link_density(node: NodeRef<Node>) -> (usize, usize, usize) {
    let (mut text, mut linked, mut links) = (0, 0, 0);
    for d in node.descendants() {
        match d.value() {
            Node::Text(t) => {
                let n = t.trim().chars().count();
                text += n;
                if d.ancestors()
                    .take_while(|a| a.id() != node.id())
                    .any(|a| a.value().as_element().is_some_and(|e| e.name() == "a"))
                {
                    linked += n;
                }
            }
            Node::Element(e) if e.name() == "a" => links += 1,
            _ => {}
        }
    }
    (text, linked, links)
}

/// Text that a reader would hear in a subtree (not in chrome, not in links): what picks the article.
fn prose_len(node: NodeRef<Node>, memo: &mut HashMap<NodeId, usize>) -> usize {
    let n = match node.value() {
        Node::Text(t) => t.trim().chars().count(),
        Node::Element(el) => {
            if chrome(node, el).is_some() || el.name() == "a" || el.name() == "pre" {
                0
            } else {
                node.children().map(|c| prose_len(c, memo)).sum()
            }
        }
        Node::Document | Node::Fragment => node.children().map(|c| prose_len(c, memo)).sum(),
        _ => 0,
    };
    memo.insert(node.id(), n);
    n
}

/// The article inside a container: go down while one child holds nearly all of the prose (the rest is page
/// furniture nobody marked as such).
fn narrow<'a>(mut node: NodeRef<'a, Node>, memo: &HashMap<NodeId, usize>) -> NodeRef<'a, Node> {
    loop {
        let total = memo.get(&node.id()).copied().unwrap_or(0);
        let best = node
            .children()
            .filter(|c| c.value().is_element())
            .max_by_key(|c| memo.get(&c.id()).copied().unwrap_or(0));
        match best {
            Some(c) if total > 0 && memo.get(&c.id()).copied().unwrap_or(0) * 100 >= total * 92 => {
                node = c
            }
            _ => return node,
        }
    }
}

/// A page title without the site's name after it: "Sockets — Python 3.11 documentation" gives "Sockets".
fn page_title(title: &str) -> String {
    for sep in [" — ", " – ", " | ", " · ", " :: ", " - "] {
        if let Some((head, _)) = title.split_once(sep) {
            if head.trim().chars().count() >= 3 {
                return tidy(head);
            }
        }
    }
    tidy(title)
}

/// A heading's text without a permalink sign left at its end.
fn clean_heading(text: String) -> String {
    let t = text.trim_end_matches(['¶', '#', '§', '🔗', '∞', '⚓', ' ']);
    if t.len() == text.len() {
        text
    } else {
        t.to_string()
    }
}

struct Reader<'a> {
    lines: &'a HashMap<NodeId, usize>,
    essay: Essay,
    buf: String,
    buf_line: usize,
    pause: Option<Pause>,
    list_depth: usize,
    quote_depth: usize,
    seen_heading: bool,
    notes: Notes,
    /// Inside a footnotes block: the note being read.
    note: Option<Note>,
    in_footnotes: bool,
    /// Page parts skipped: the first line, and how many of each element.
    skipped: BTreeMap<String, usize>,
    first_skipped: Option<usize>,
}

impl Reader<'_> {
    fn line(&self, node: NodeRef<Node>) -> usize {
        self.lines.get(&node.id()).copied().unwrap_or(self.buf_line)
    }

    fn flush(&mut self) {
        let text = tidy(&self.buf);
        self.buf.clear();
        self.essay.push_text(
            text,
            self.buf_line,
            self.list_depth > 0,
            self.quote_depth > 0,
            &mut self.note,
            &mut self.pause,
        );
    }

    fn skip_part(&mut self, name: &str, line: usize) {
        *self.skipped.entry(name.to_string()).or_insert(0) += 1;
        self.first_skipped = Some(self.first_skipped.map_or(line, |first| first.min(line)));
    }

    /// Inline text of a node, for headings: every text inside, note links left out.
    fn text_of(node: NodeRef<Node>) -> String {
        let mut out = String::new();
        for d in node.descendants() {
            if let Node::Text(t) = d.value() {
                let inside_note_link = d.ancestors().any(|a| {
                    a.value().as_element().is_some_and(|e| {
                        is_note_link(e)
                            || PAGE_PARTS.contains(&e.name())
                            || (e.name() == "a" && is_permalink(e, &t[..]))
                    })
                });
                if !inside_note_link {
                    out.push_str(t);
                }
            }
        }
        tidy(&out)
    }

    fn walk(&mut self, node: NodeRef<Node>) {
        for child in node.children() {
            match child.value() {
                Node::Text(t) => {
                    if self.buf.trim().is_empty() {
                        self.buf_line = self.line(node);
                    }
                    self.buf.push_str(t);
                }
                Node::Comment(c) => {
                    if let Some(p) = pause_mark(&format!("<!--{}-->", &**c)) {
                        self.flush();
                        self.pause = Some(p);
                    }
                }
                Node::Element(el) => self.element(child, el),
                _ => {}
            }
        }
    }

    fn element(&mut self, node: NodeRef<Node>, el: &scraper::node::Element) {
        let name = el.name();
        let line = self.line(node);
        if let Some(kind) = chrome(node, el) {
            self.skip_part(kind, line);
            return;
        }
        if matches!(
            name,
            "a" | "p" | "li" | "div" | "span" | "button" | "dt" | "dd" | "td"
        ) || name.starts_with('h')
        {
            let text = Self::text_of(node);
            if is_permalink(el, &text) {
                self.skip_part("permalink", line);
                return;
            }
            if !text.is_empty() && is_furniture_text(&text) && !self.in_footnotes {
                self.skip_part("navigation", line);
                return;
            }
        }
        // A list or block that is nearly all links: a table of contents, "related pages", a site menu.
        if matches!(name, "ul" | "ol" | "dl" | "p" | "div" | "table") && !self.in_footnotes {
            let (text, linked, links) = link_density(node);
            if links >= 2 && text > 0 && linked * 10 >= text * 8 {
                self.skip_part("list of links", line);
                return;
            }
        }
        if is_note_link(el) {
            // A reference to a note (a link back from one, inside the notes, is not).
            let target = el.attr("href").unwrap_or("#").trim_start_matches('#');
            if !self.in_footnotes && !target.is_empty() {
                let section = self.essay.current_section();
                self.notes.refer(target, section, line);
            }
            return;
        }
        if name == "br" {
            self.buf.push(' ');
            return;
        }
        if !BLOCKS.contains(&name) {
            self.walk(node);
            return;
        }
        self.flush();
        self.buf_line = line;
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = name[1..].parse().unwrap_or(2);
                let heading = Heading {
                    text: clean_heading(Self::text_of(node)),
                    level,
                    line,
                    pause_before: None,
                };
                if level == 1 && self.essay.title.is_none() && !self.seen_heading {
                    self.essay.title = Some(heading);
                } else if !heading.text.is_empty() {
                    self.essay.push_heading(heading, &mut self.pause);
                }
                self.seen_heading = true;
            }
            "hr" => self.pause = Some(Pause::Section),
            "pre" => self.essay.warnings.push(Skipped::block(line, "code block")),
            "table" => self.essay.warnings.push(Skipped::block(line, "table")),
            "figure" => self.essay.warnings.push(Skipped::block(line, "image")),
            "ul" | "ol" | "dl" => {
                self.list_depth += 1;
                self.walk(node);
                self.flush();
                self.list_depth -= 1;
            }
            "blockquote" => {
                self.quote_depth += 1;
                self.walk(node);
                self.flush();
                self.quote_depth -= 1;
            }
            _ if is_footnotes_block(el) && !self.in_footnotes => {
                self.in_footnotes = true;
                self.walk(node);
                self.flush();
                self.in_footnotes = false;
            }
            "li" | "div" | "p" if self.in_footnotes && el.id().is_some() => {
                let id = el.id().unwrap_or_default();
                let section = self.essay.current_section();
                self.note = Some(Note::new(id, line, section));
                self.walk(node);
                self.flush();
                if let Some(note) = self.note.take() {
                    self.notes.define(note);
                }
            }
            _ => {
                self.walk(node);
                self.flush();
            }
        }
    }
}

/// Parses a web page.
pub(crate) fn parse_html(text: &str) -> Essay {
    let sink = LineSink {
        inner: HtmlTreeSink::new(Html::new_document()),
        line: Cell::new(1),
        lines: RefCell::new(HashMap::new()),
    };
    let (html, lines) = html5ever::driver::parse_document(sink, Default::default()).one(text);
    let root = html.tree.root();
    let mut reader = Reader {
        lines: &lines,
        essay: Essay::default(),
        buf: String::new(),
        buf_line: 1,
        pause: None,
        list_depth: 0,
        quote_depth: 0,
        seen_heading: false,
        notes: Notes::default(),
        note: None,
        in_footnotes: false,
        skipped: BTreeMap::new(),
        first_skipped: None,
    };
    reader.essay.language = find(root, "html")
        .and_then(|n| n.value().as_element().and_then(|e| e.attr("lang")))
        .map(str::to_string);
    reader.essay.front_matter_author = root
        .descendants()
        .filter_map(|n| n.value().as_element())
        .find(|e| e.name() == "meta" && e.attr("name") == Some("author"))
        .and_then(|e| e.attr("content"))
        .map(tidy)
        .filter(|a| !a.is_empty());
    let content = content_of(root);
    reader.skip_outside(root, content);
    reader.walk(content);
    reader.flush();
    if reader.essay.title.is_none() {
        reader.essay.title = reader.title_from_page(root);
    }
    reader.into_essay()
}

/// The first element named `name` under `root`.
fn find<'a>(root: NodeRef<'a, Node>, name: &str) -> Option<NodeRef<'a, Node>> {
    root.descendants()
        .find(|n| n.value().as_element().is_some_and(|e| e.name() == name))
}

/// The article itself when the page marks it; the whole body when it does not; narrowed to where its prose is.
fn content_of(root: NodeRef<Node>) -> NodeRef<Node> {
    let mut prose = HashMap::new();
    prose_len(root, &mut prose);
    let role_main = root.descendants().find(|n| {
        n.value()
            .as_element()
            .is_some_and(|e| e.attr("role") == Some("main"))
    });
    let content = find(root, "article")
        .or_else(|| find(root, "main"))
        .or(role_main)
        .or_else(|| find(root, "body"))
        .unwrap_or(root);
    narrow(content, &prose)
}

impl Reader<'_> {
    /// Counts the page parts outside the article (the head's scripts and styles too) as skipped; links and meta
    /// tags are data about the page, not part of it.
    fn skip_outside(&mut self, root: NodeRef<Node>, content: NodeRef<Node>) {
        for d in root.descendants() {
            let Some(el) = d.value().as_element() else {
                continue;
            };
            let inside = d.ancestors().any(|a| a.id() == content.id());
            let nested = d.ancestors().any(|a| {
                a.value()
                    .as_element()
                    .is_some_and(|e| PAGE_PARTS.contains(&e.name()))
            });
            let counted = PAGE_PARTS.contains(&el.name()) && !matches!(el.name(), "link" | "meta");
            if !inside && !nested && counted {
                let line = self.line(d);
                self.skip_part(el.name(), line);
            }
        }
    }

    /// The title of a page with none at the top of its article: the page's first `<h1>` outside its furniture,
    /// then og:title, then the `<title>` without the site's name.
    fn title_from_page(&self, root: NodeRef<Node>) -> Option<Heading> {
        let heading = |text: String, line| Heading {
            text,
            level: 1,
            line,
            pause_before: None,
        };
        let h1 = root.descendants().find(|n| {
            n.value().as_element().is_some_and(|e| e.name() == "h1")
                && !n.ancestors().any(|a| {
                    a.value()
                        .as_element()
                        .is_some_and(|e| chrome(a, e).is_some())
                })
        });
        if let Some(h1) = h1 {
            let text = clean_heading(Reader::text_of(h1));
            if !text.is_empty() {
                return Some(heading(text, self.line(h1)));
            }
        } else if let Some(text) = root
            .descendants()
            .filter_map(|n| n.value().as_element())
            .find(|e| e.name() == "meta" && e.attr("property") == Some("og:title"))
            .and_then(|e| e.attr("content"))
            .map(tidy)
            .filter(|t| !t.is_empty())
        {
            return Some(heading(text, 1));
        }
        let title = find(root, "title")?;
        let text = page_title(&Reader::text_of(title));
        (!text.is_empty()).then(|| heading(text, self.line(title)))
    }

    /// The essay read, its notes placed and what was skipped around the article told first.
    fn into_essay(self) -> Essay {
        let Reader {
            mut essay,
            notes,
            skipped,
            first_skipped,
            ..
        } = self;
        notes.place(&mut essay);
        if let Some(line) = first_skipped {
            let total: usize = skipped.values().sum();
            let list = skipped
                .iter()
                .map(|(name, n)| format!("{n} {name}"))
                .collect::<Vec<_>>()
                .join(", ");
            essay.warnings.insert(
                0,
                Skipped {
                    line,
                    what: format!(
                        "{total} part{} of the page around the article skipped ({list})",
                        if total == 1 { "" } else { "s" }
                    ),
                },
            );
        }
        essay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::essay::Aside;

    #[test]
    fn an_article_with_its_page_around_it() {
        let html = r##"<!DOCTYPE html>
<html lang="en-GB">
<head>
  <title>The Tide Clocks | A Blog</title>
  <meta name="author" content="Ada Writer">
  <style>body { color: red }</style>
  <script>var x = 1;</script>
</head>
<body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article>
  <h1>The Tide Clocks</h1>
  <p>The harbour keeps its <em>own</em> time.<sup><a href="#fn1" id="fnref1">1</a></sup></p>
  <h2>Morning</h2>
  <p>Boats leave
     early.</p>
  <ul><li>Nets first.</li><li>Then bait.</li></ul>
  <blockquote><p>Wait for the water.</p></blockquote>
  <h3>Before Dawn</h3>
  <div>Loose text in a div.<br>Still the same block.</div>
  <pre>code();</pre>
  <aside>Related posts</aside>
  <section class="footnotes"><ol><li id="fn1"><p>Measured at the pier. <a href="#fnref1" class="footnote-backref">↩</a></p></li></ol></section>
</article>
<footer>© someone</footer>
<script>track();</script>
</body>
</html>
"##;
        let e = parse_html(html);
        assert_eq!(e.title.as_ref().unwrap().text, "The Tide Clocks");
        assert_eq!(e.title.as_ref().unwrap().line, 12);
        assert_eq!(e.language.as_deref(), Some("en-GB"));
        assert_eq!(e.byline_author().as_deref(), Some("Ada Writer"));
        let headings: Vec<(&str, u8, usize)> = e
            .sections
            .iter()
            .filter_map(|s| s.heading.as_ref())
            .map(|h| (h.text.as_str(), h.level, h.line))
            .collect();
        assert_eq!(headings, vec![("Morning", 2, 14), ("Before Dawn", 3, 19)]);
        let paragraphs: Vec<Vec<(&str, bool, Option<Aside>)>> = e
            .sections
            .iter()
            .map(|s| {
                s.paragraphs
                    .iter()
                    .map(|p| (p.text.as_str(), p.list_item, p.aside))
                    .collect()
            })
            .collect();
        assert_eq!(
            paragraphs,
            vec![
                vec![
                    ("The harbour keeps its own time.", false, None),
                    ("Note: Measured at the pier.", false, Some(Aside::Note)),
                ],
                vec![
                    ("Boats leave early.", false, None),
                    ("Nets first.", true, None),
                    ("Then bait.", true, None),
                    ("Wait for the water.", false, Some(Aside::Quote)),
                ],
                vec![("Loose text in a div. Still the same block.", false, None)],
            ]
        );
        let warnings: Vec<String> = e.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            warnings,
            vec![
                "6: 6 parts of the page around the article skipped (1 aside, 1 footer, 1 nav, 2 script, 1 style)"
                    .to_string(),
                "21: code block skipped (code blocks are not narrated)".to_string(),
            ]
        );
    }

    #[test]
    fn a_page_without_an_article_or_h1_takes_the_title_tag() {
        let e = parse_html("<title>Just a Note</title><p>One line.</p><p>Two <b>lines</b>.</p>");
        assert_eq!(e.title.as_ref().unwrap().text, "Just a Note");
        assert_eq!(e.sections.len(), 1);
        assert_eq!(e.sections[0].paragraphs[1].text, "Two lines.");
    }

    #[test]
    fn a_documentation_page_reads_like_a_reader_view() {
        let html = r##"<html><head><title>Sockets HOWTO — Example 3.11 documentation</title></head><body>
<div class="related" role="navigation"><ul><li><a href="/">index</a></li><li><a href="m">modules</a> |</li></ul></div>
<div id="cookie-banner"><p>We use cookies.</p><button>Accept all</button></div>
<ol class="breadcrumbs"><li><a href="/">Docs</a></li><li>HOWTOs</li></ol>
<div class="document"><div class="body" role="main"><section>
<h1>Sockets HOWTO<a class="headerlink" href="#s">¶</a></h1>
<p>Sockets are used nearly everywhere, but are one of the most misunderstood technologies around.</p>
<div class="contents"><ul><li><a href="#a">Creating a Socket</a></li><li><a href="#b">Using a Socket</a></li></ul></div>
<h2>Creating a Socket<a href="#a">#</a></h2>
<p>Roughly speaking, when you clicked on the link that brought you here, your browser did something.</p>
<div class="share-buttons"><a href="t">Tweet</a> <a href="f">Share on Facebook</a></div>
<p><a href="edit">Edit this page</a></p>
<h2>Using a Socket <a class="anchor" href="#b">🔗</a></h2>
<p>The first thing to note is that the browser's client socket and the web server's client socket are identical.</p>
<div class="nav-links"><a href="p">Previous topic</a> <a href="n">Next topic</a></div>
</section></div></div>
<div class="sphinxsidebar"><h3>This Page</h3><ul><li><a href="src">Show Source</a></li></ul></div>
</body></html>"##;
        let e = parse_html(html);
        assert_eq!(e.title.as_ref().unwrap().text, "Sockets HOWTO");
        let headings: Vec<&str> = e
            .sections
            .iter()
            .filter_map(|s| s.heading.as_ref().map(|h| h.text.as_str()))
            .collect();
        assert_eq!(headings, vec!["Creating a Socket", "Using a Socket"]);
        let text: Vec<&str> = e
            .sections
            .iter()
            .flat_map(|s| s.paragraphs.iter().map(|p| p.text.as_str()))
            .collect();
        assert_eq!(text.len(), 3, "{text:?}");
        for furniture in [
            "index",
            "modules",
            "cookies",
            "Docs",
            "Tweet",
            "Edit",
            "Previous",
            "Show Source",
            "¶",
        ] {
            assert!(
                !text.iter().any(|t| t.contains(furniture)),
                "{furniture} is read: {text:?}"
            );
        }
        // Without an <h1>, the <title> loses the site's name.
        let e = parse_html("<title>Plain Page | Some Site</title><p>Text.</p>");
        assert_eq!(e.title.unwrap().text, "Plain Page");
    }

    #[test]
    fn broken_html_still_reads() {
        let e = parse_html("<h1>T</h1><p>Unclosed <i>italic<p>Next para</div></span>");
        assert_eq!(e.title.as_ref().unwrap().text, "T");
        let texts: Vec<&str> = e.sections[0]
            .paragraphs
            .iter()
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(texts, vec!["Unclosed italic", "Next para"]);
    }
}
