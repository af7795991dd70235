//! Inline SVG charts for the HTML report: delivery timeline, latency percentiles, link graph.
//! Every label from the run goes through [`escape::html`], which is also valid XML escaping.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::escape::{self, one_line};
use crate::model::{DeliveryStats, LatencyStats, LinkGraph};

/// The most nodes the link graph draws.
pub(crate) const MAX_GRAPH_NODES: usize = 150;
const MAX_DEPTH: usize = 40;

fn nice_ceiling(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(x.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= x {
            return m * mag;
        }
    }
    10.0 * mag
}

fn num(x: f64) -> String {
    if x.abs() >= 10.0 || x == x.trunc() {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Latency of each delivery over the run, with p50/p95/p99 lines.
pub(crate) fn timeline(stats: &DeliveryStats) -> String {
    let (w, h) = (720.0, 260.0);
    let (ml, mr, mt, mb) = (56.0, 16.0, 12.0, 40.0);
    let (pw, ph) = (w - ml - mr, h - mt - mb);
    let mut s = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Delivery latency over time">"#
    );
    s.push_str("<title>Delivery latency over time</title>");
    if stats.timeline.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" class="muted">no deliveries recorded</text></svg>"#,
            w / 2.0,
            h / 2.0
        );
        return s;
    }
    let last_t = stats.timeline.iter().map(|p| p.0).max().unwrap_or(0).max(1) as f64;
    let max_t = nice_ceiling(last_t);
    let max_l = stats
        .timeline
        .iter()
        .map(|p| p.1)
        .chain([stats.latency_ms.p99, stats.latency_ms.max])
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    let top = nice_ceiling(max_l);
    let secs = max_t >= 2000.0;
    let x = |t: f64| ml + t / max_t * pw;
    let y = |l: f64| mt + ph - (l.clamp(0.0, top) / top) * ph;

    // Axes and ticks.
    let _ = write!(
        s,
        r#"<g class="axis"><line x1="{ml}" y1="{b}" x2="{r}" y2="{b}"/><line x1="{ml}" y1="{mt}" x2="{ml}" y2="{b}"/>"#,
        b = mt + ph,
        r = ml + pw
    );
    for i in 0..=5 {
        let v = top * f64::from(i) / 5.0;
        let yy = y(v);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{ml}" y1="{yy:.1}" x2="{r}" y2="{yy:.1}"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{}</text>"#,
            num(v),
            r = ml + pw,
            tx = ml - 6.0,
            ty = yy + 4.0
        );
        let t = max_t * f64::from(i) / 5.0;
        let label = if secs {
            format!("{}s", num(t / 1000.0))
        } else {
            format!("{}ms", num(t))
        };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{label}</text>"#,
            x(t),
            mt + ph + 16.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">time since start</text><text x="12" y="{}" transform="rotate(-90 12 {})" text-anchor="middle">latency (ms)</text></g>"#,
        ml + pw / 2.0,
        h - 4.0,
        mt + ph / 2.0,
        mt + ph / 2.0
    );
    // Points.
    s.push_str(r#"<g class="pts">"#);
    for (t, l) in &stats.timeline {
        let _ = write!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="2"/>"#,
            x(*t as f64),
            y(*l)
        );
    }
    s.push_str("</g>");
    // Percentile lines, labels staggered so close values stay readable.
    for (i, (name, v)) in [
        ("p50", stats.latency_ms.p50),
        ("p95", stats.latency_ms.p95),
        ("p99", stats.latency_ms.p99),
    ]
    .into_iter()
    .enumerate()
    {
        let yy = y(v);
        let _ = write!(
            s,
            r#"<g class="pct"><line x1="{ml}" y1="{yy:.1}" x2="{r}" y2="{yy:.1}"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{name} {} ms</text></g>"#,
            num(v),
            r = ml + pw,
            tx = ml + pw - 4.0 - 90.0 * i as f64,
            ty = yy - 3.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars of p50, p95, p99 and max latency.
pub(crate) fn latency_bars(l: &LatencyStats) -> String {
    let rows = [
        ("p50", l.p50),
        ("p95", l.p95),
        ("p99", l.p99),
        ("max", l.max),
    ];
    let top = nice_ceiling(rows.iter().map(|r| r.1).fold(0.0, f64::max));
    let (w, bar_w, lh) = (420.0, 300.0, 22.0);
    let h = lh * rows.len() as f64 + 8.0;
    let mut s = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Latency percentiles"><title>Latency percentiles</title>"#
    );
    for (i, (name, v)) in rows.iter().enumerate() {
        let yy = 4.0 + lh * i as f64;
        let bw = (v.max(0.0) / top * bar_w).max(1.0);
        let _ = write!(
            s,
            r#"<text x="36" y="{ty:.1}" text-anchor="end">{name}</text><rect class="bar" x="44" y="{yy:.1}" width="{bw:.1}" height="16"/><text x="{tx:.1}" y="{ty:.1}">{} ms</text>"#,
            num(*v),
            ty = yy + 12.0,
            tx = 48.0 + bw
        );
    }
    s.push_str("</svg>");
    s
}

/// The link graph in columns: an event is placed one column right of the events linking to it.
/// `n` makes element ids unique when a page holds several graphs.
pub(crate) fn link_graph(g: &LinkGraph, n: usize) -> String {
    let nodes = &g.nodes[..g.nodes.len().min(MAX_GRAPH_NODES)];
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.id.as_str(), i))
        .collect();
    let edges: Vec<(usize, usize, &str)> = g
        .edges
        .iter()
        .filter_map(|e| {
            Some((
                *index.get(e.from.as_str())?,
                *index.get(e.to.as_str())?,
                e.kind.as_str(),
            ))
        })
        .collect();
    // Longest-path depth, bounded so cycles end.
    let mut depth = vec![0usize; nodes.len()];
    for _ in 0..nodes.len().min(MAX_DEPTH + 1) {
        let mut changed = false;
        for &(a, b, _) in &edges {
            if a != b && depth[b] <= depth[a] && depth[a] < MAX_DEPTH {
                depth[b] = depth[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut row_of = vec![0usize; nodes.len()];
    let mut rows_in: Vec<usize> = vec![0; MAX_DEPTH + 1];
    for (i, d) in depth.iter().enumerate() {
        row_of[i] = rows_in[*d];
        rows_in[*d] += 1;
    }
    let cols = depth.iter().max().map_or(1, |d| d + 1);
    let rows = rows_in.iter().copied().max().unwrap_or(1).max(1);
    let (cw, rh, nw, nh) = (190.0, 52.0, 160.0, 36.0);
    let w = cols as f64 * cw + 20.0;
    // Room below the last row for links that bow (see below).
    let bows = edges.iter().any(|&(a, b, _)| depth[b] != depth[a] + 1);
    let h = rows as f64 * rh + 20.0 + if bows { rh } else { 0.0 };
    let pos = |i: usize| (10.0 + depth[i] as f64 * cw, 10.0 + row_of[i] as f64 * rh);

    let mut s = format!(
        r#"<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Links between events"><title>Links between events</title><defs><marker id="arrow-{n}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>"#
    );
    s.push_str(r#"<g class="edges">"#);
    for &(a, b, kind) in &edges {
        let (ax, ay) = pos(a);
        let (bx, by) = pos(b);
        let (x1, y1, x2, y2) = (ax + nw, ay + nh / 2.0, bx, by + nh / 2.0);
        let class = match kind.to_ascii_uppercase().as_str() {
            "PATH" => "path",
            "END" => "end",
            "RELATION" => "relation",
            _ => "other",
        };
        // A link to the next column is a plain curve; a longer or backward one bows below the
        // row so it does not run through the events in between.
        let span = depth[b] as f64 - depth[a] as f64;
        let bow = if depth[b] == depth[a] + 1 {
            0.0
        } else {
            rh * 0.45 * span.abs().clamp(1.0, 3.0)
        };
        let _ = write!(
            s,
            r#"<path class="{class}" d="M{x1:.1},{y1:.1} C{:.1},{:.1} {:.1},{:.1} {x2:.1},{y2:.1}" marker-end="url(#arrow-{n})"><title>{}</title></path>"#,
            x1 + 40.0,
            y1 + bow,
            x2 - 40.0,
            y2 + bow,
            escape::html(&one_line(kind, 64))
        );
    }
    s.push_str("</g><g class=\"nodes\">");
    for (i, node) in nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let short = node
            .node_type
            .strip_prefix("dev.cdevents.")
            .unwrap_or(&node.node_type);
        let short = strip_version(short);
        let kind: String = short.chars().take(24).collect();
        let id: String = node.id.chars().take(26).collect();
        let _ = write!(
            s,
            r#"<g><title>{} {}</title><rect x="{x:.1}" y="{y:.1}" width="{nw}" height="{nh}" rx="4"/><text x="{tx:.1}" y="{:.1}" font-weight="600">{}</text><text class="muted" x="{tx:.1}" y="{:.1}">{}</text></g>"#,
            escape::html(&one_line(&node.node_type, 256)),
            escape::html(&one_line(&node.id, 256)),
            y + 15.0,
            escape::html(&kind),
            y + 29.0,
            escape::html(&id),
            tx = x + 8.0,
        );
    }
    s.push_str("</g></svg>");
    s
}

/// `pipelinerun.finished.0.2.0` → `pipelinerun.finished` (a trailing semantic version dropped).
fn strip_version(t: &str) -> &str {
    let parts: Vec<&str> = t.split('.').collect();
    let numeric = |p: &str| !p.is_empty() && p.chars().next().is_some_and(|c| c.is_ascii_digit());
    if parts.len() > 3 && parts[parts.len() - 3..].iter().all(|p| numeric(p)) {
        let cut: usize = parts[parts.len() - 3..].iter().map(|p| p.len() + 1).sum();
        &t[..t.len() - cut]
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            strip_version("pipelinerun.finished.0.2.0"),
            "pipelinerun.finished"
        );
        assert_eq!(strip_version("a.b"), "a.b");
        assert_eq!(strip_version("x.1.2.3-draft"), "x");
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(4975.0), 5000.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(num(1.25), "1.25");
        assert_eq!(num(12.6), "13");
        assert_eq!(num(0.5), "0.5");
    }
}
