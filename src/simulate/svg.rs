//! The picture of a run, as an SVG file any browser opens: above, how each article
//! spread (share of nodes holding it against time since its post, one line per
//! article); below, the whole mesh against virtual time (share of all deliveries made,
//! nodes up, the partition shaded). Written by hand: a few hundred lines of text need
//! no drawing library.

use std::fmt::Write as _;

use super::queue::Millis;
use super::report::{Outcome, Window};

const WIDTH: f64 = 900.0;
const PANEL: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
/// Most points a line is drawn with (a 1,000-node curve needs no more to look right).
const MAX_POINTS: usize = 150;
/// Most article lines drawn in the upper panel.
const MAX_ARTICLES: usize = 120;

/// The SVG document for `outcome`, titled with the run's figures line.
pub fn render(outcome: &Outcome, figures: &str) -> String {
    let mut svg = String::new();
    let height = 2.0 * PANEL + 190.0;
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let title = format!(
        "newsmesh simulate: {} nodes, {} links, {} articles",
        outcome.nodes, outcome.links, outcome.articles
    );
    text(&mut svg, LEFT, 24.0, 16.0, "start", &title);
    // The figures line, in two halves so it fits.
    let words: Vec<&str> = figures.split(' ').collect();
    let half = words.len().div_ceil(2);
    text(
        &mut svg,
        LEFT,
        44.0,
        11.0,
        "start",
        &words[..half].join(" "),
    );
    text(
        &mut svg,
        LEFT,
        58.0,
        11.0,
        "start",
        &words[half..].join(" "),
    );
    spread_panel(&mut svg, outcome, 90.0);
    mesh_panel(&mut svg, outcome, 90.0 + PANEL + 70.0);
    svg.push_str("</svg>\n");
    svg
}

/// Upper panel: each article's share of nodes against time since its post.
fn spread_panel(svg: &mut String, o: &Outcome, top: f64) {
    let curves: Vec<Vec<Millis>> = o
        .got
        .iter()
        .zip(&o.posted_at)
        .filter_map(|(row, posted)| {
            let posted = (*posted)?;
            let mut times: Vec<Millis> = row
                .iter()
                .flatten()
                .map(|(at, _)| at.saturating_sub(posted))
                .collect();
            times.sort_unstable();
            Some(times)
        })
        .collect();
    let span = curves
        .iter()
        .filter_map(|c| c.last().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let frame = Frame::new(top, span);
    frame.axes(
        svg,
        "time since the article was posted",
        "share of nodes holding it",
    );
    let stride = curves.len().div_ceil(MAX_ARTICLES).max(1);
    for times in curves.iter().step_by(stride) {
        let points = cumulative(times, o.nodes);
        frame.line(svg, &points, "#1f77b4", 1.0, 0.35);
    }
    if let Some(median) = median_curve(&curves) {
        frame.line(svg, &cumulative(median, o.nodes), "#d62728", 2.5, 1.0);
        text(
            svg,
            WIDTH - RIGHT,
            top + 14.0,
            11.0,
            "end",
            "blue: each article; red: the article of median spread",
        );
    }
}

/// Lower panel: share of all (node, article) deliveries made, and of nodes up, against
/// virtual time; the partition shaded.
fn mesh_panel(svg: &mut String, o: &Outcome, top: f64) {
    let span = o.ended.max(o.last_move).max(1);
    let frame = Frame::new(top, span);
    for window in &o.windows {
        if let Window::Partition { from, to } = window {
            let to = to.unwrap_or(span).min(span);
            let (x0, x1) = (frame.x(*from), frame.x(to));
            let _ = writeln!(
                svg,
                "<rect x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{PANEL:.1}\" \
                 fill=\"#ff7f0e\" fill-opacity=\"0.15\"/>",
                (x1 - x0).max(1.0)
            );
            text(svg, x0 + 4.0, top + 28.0, 11.0, "start", "partition");
        }
    }
    frame.axes(svg, "virtual time", "share");
    let mut times: Vec<Millis> = o
        .got
        .iter()
        .flatten()
        .flatten()
        .map(|(at, _)| *at)
        .collect();
    times.sort_unstable();
    let mut points = cumulative(&times, (o.nodes * o.articles).max(1));
    if let Some(&(_, y)) = points.last() {
        points.push((span, y));
    }
    frame.line(svg, &points, "#2ca02c", 2.0, 1.0);
    let up = nodes_up(o, span);
    frame.line(svg, &up, "#7f7f7f", 1.5, 0.9);
    text(
        svg,
        WIDTH - RIGHT,
        top + 14.0,
        11.0,
        "end",
        "green: deliveries made of all needed; grey: nodes up",
    );
}

/// The step line of `times` (sorted) reaching `of` in all, at most [`MAX_POINTS`] points.
fn cumulative(times: &[Millis], of: usize) -> Vec<(Millis, f64)> {
    let stride = times.len().div_ceil(MAX_POINTS).max(1);
    let mut points = vec![(0, 0.0)];
    for (i, &t) in times.iter().enumerate() {
        if i % stride == stride - 1 || i + 1 == times.len() {
            points.push((t, (i + 1) as f64 / of.max(1) as f64));
        }
    }
    points
}

/// The curve of the article whose spread (time to its last node) is the median.
fn median_curve(curves: &[Vec<Millis>]) -> Option<&Vec<Millis>> {
    let mut by_spread: Vec<&Vec<Millis>> = curves.iter().filter(|c| !c.is_empty()).collect();
    by_spread.sort_by_key(|c| c.last().copied());
    by_spread.get(by_spread.len() / 2).copied()
}

/// Share of nodes up over time, from the churn windows.
fn nodes_up(o: &Outcome, span: Millis) -> Vec<(Millis, f64)> {
    let mut changes: Vec<(Millis, i64)> = Vec::new();
    for window in &o.windows {
        if let Window::Down { from, to, .. } = window {
            changes.push((*from, -1));
            changes.push((*to, 1));
        }
    }
    changes.sort_unstable();
    let n = o.nodes.max(1) as f64;
    let mut up = o.nodes as i64;
    let mut points = vec![(0, 1.0)];
    for (at, change) in changes {
        if at > span {
            break;
        }
        points.push((at, up as f64 / n));
        up += change;
        points.push((at, up as f64 / n));
    }
    points.push((span, up as f64 / n));
    points
}

/// A panel's coordinates: time across, share up.
struct Frame {
    top: f64,
    span: Millis,
}

impl Frame {
    fn new(top: f64, span: Millis) -> Frame {
        Frame { top, span }
    }

    fn x(&self, t: Millis) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * (t as f64 / self.span as f64)
    }

    fn y(&self, share: f64) -> f64 {
        self.top + PANEL * (1.0 - share.clamp(0.0, 1.0))
    }

    fn axes(&self, svg: &mut String, x_label: &str, y_label: &str) {
        let (x0, x1, y0, y1) = (self.x(0), self.x(self.span), self.y(0.0), self.y(1.0));
        let _ = writeln!(
            svg,
            "<path d=\"M{x0:.1},{y1:.1} L{x0:.1},{y0:.1} L{x1:.1},{y0:.1}\" stroke=\"black\" \
             fill=\"none\"/>"
        );
        for share in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let y = self.y(share);
            let _ = writeln!(
                svg,
                "<line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>"
            );
            let label = format!("{:.0}%", share * 100.0);
            text(svg, x0 - 6.0, y + 4.0, 11.0, "end", &label);
        }
        let step = tick_step(self.span);
        let mut t = 0;
        while t <= self.span {
            let x = self.x(t);
            let _ = writeln!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{y0:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
                y0 + 4.0
            );
            text(svg, x, y0 + 17.0, 11.0, "middle", &duration(t));
            t += step;
        }
        text(svg, (x0 + x1) / 2.0, y0 + 34.0, 12.0, "middle", x_label);
        let _ = writeln!(
            svg,
            "<text x=\"18\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" \
             transform=\"rotate(-90 18 {:.1})\">{}</text>",
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0,
            escape(y_label)
        );
    }

    fn line(
        &self,
        svg: &mut String,
        points: &[(Millis, f64)],
        colour: &str,
        width: f64,
        opacity: f64,
    ) {
        if points.is_empty() {
            return;
        }
        let mut d = String::new();
        for (i, &(t, share)) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                self.x(t),
                self.y(share)
            );
        }
        let _ = writeln!(
            svg,
            "<path d=\"{d}\" stroke=\"{colour}\" stroke-width=\"{width}\" \
             stroke-opacity=\"{opacity}\" fill=\"none\"/>"
        );
    }
}

/// A tick spacing giving at most about eight ticks over `span`.
fn tick_step(span: Millis) -> Millis {
    const STEPS: [Millis; 25] = [
        1,
        2,
        5,
        10,
        20,
        50,
        100,
        200,
        500,
        1_000,
        2_000,
        5_000,
        10_000,
        30_000,
        60_000,
        120_000,
        300_000,
        600_000,
        1_800_000,
        3_600_000,
        7_200_000,
        21_600_000,
        43_200_000,
        86_400_000,
        604_800_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|step| span / step <= 8)
        .unwrap_or(span.div_ceil(8).max(1))
}

/// A tick label: the largest unit that divides it.
fn duration(ms: Millis) -> String {
    match ms {
        0 => "0".into(),
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

fn text(svg: &mut String, x: f64, y: f64, size: f64, anchor: &str, content: &str) {
    let _ = writeln!(
        svg,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\">{}</text>",
        escape(content)
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_labels_read_as_durations() {
        assert_eq!(tick_step(700), 100);
        assert_eq!(tick_step(3_600_000), 600_000);
        assert_eq!(duration(600_000), "10m");
        assert_eq!(duration(1500), "1500ms");
        assert_eq!(duration(2 * 86_400_000), "2d");
    }

    #[test]
    fn a_picture_is_one_svg_document_with_escaped_text() {
        let mut o = Outcome::new(2, 1, 1);
        o.posted_at = vec![Some(0)];
        o.deliver(0, 0, 0, 0);
        o.deliver(0, 1, 40, 1);
        o.ended = 40;
        o.windows.push(Window::Partition { from: 10, to: None });
        let svg = render(&o, "a<b c&d");
        assert!(svg.starts_with("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(svg.contains("a&lt;b") && svg.contains("c&amp;d"));
        assert!(svg.contains("partition"));
    }
}
