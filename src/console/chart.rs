//! Line charts as inline SVG drawn on the server: no script, no library. Colours come
//! from the stylesheet (classes), so the CSP needs no inline style.

use maud::{html, Markup};

pub struct Series {
    pub label: String,
    /// CSS class of the line and its legend swatch.
    pub class: &'static str,
    /// (x, y) points, x in the chart's own unit, in order.
    pub points: Vec<(f64, f64)>,
}

const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A chart of `series` over `x_range`, with tick labels at `x_ticks`. `step`: draw each
/// series as steps (a value holds until the next point), as for a registry's size.
pub fn lines(
    title: &str,
    description: &str,
    x_range: (f64, f64),
    x_ticks: &[(f64, String)],
    series: &[Series],
    step: bool,
) -> Markup {
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max);
    let y_top = nice_ceiling(y_max);
    let (x0, x1) = x_range;
    let span = if x1 > x0 { x1 - x0 } else { 1.0 };
    let x = |v: f64| LEFT + (v - x0) / span * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - v / y_top) * (H - TOP - BOTTOM);
    let path = |s: &Series| {
        let mut out = String::new();
        let mut last: Option<(f64, f64)> = None;
        for &(px, py) in &s.points {
            if let (true, Some((_, ly))) = (step, last) {
                out.push_str(&format!("{:.1},{:.1} ", x(px), y(ly)));
            }
            out.push_str(&format!("{:.1},{:.1} ", x(px), y(py)));
            last = Some((px, py));
        }
        if let (true, Some((_, ly))) = (step, last) {
            out.push_str(&format!("{:.1},{:.1}", x(x1), y(ly)));
        }
        out
    };
    let id = title
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (W) " " (H) } role="img" aria-labelledby={ "t-" (id) " d-" (id) } preserveAspectRatio="xMidYMid meet" {
                title id={ "t-" (id) } { (title) }
                desc id={ "d-" (id) } { (description) }
                line.axis x1=(LEFT) y1=(y(0.0)) x2=(W - RIGHT) y2=(y(0.0)) {}
                line.grid x1=(LEFT) y1=(y(y_top)) x2=(W - RIGHT) y2=(y(y_top)) {}
                line.grid x1=(LEFT) y1=(y(y_top / 2.0)) x2=(W - RIGHT) y2=(y(y_top / 2.0)) {}
                text.label x=(LEFT - 6.0) y=(y(y_top) + 4.0) text-anchor="end" { (short(y_top)) }
                @if (y_top / 2.0).fract() == 0.0 {
                    text.label x=(LEFT - 6.0) y=(y(y_top / 2.0) + 4.0) text-anchor="end" { (short(y_top / 2.0)) }
                }
                text.label x=(LEFT - 6.0) y=(y(0.0) + 4.0) text-anchor="end" { "0" }
                @for (i, (tx, label)) in x_ticks.iter().enumerate() {
                    line.tick x1=(x(*tx)) y1=(y(0.0)) x2=(x(*tx)) y2=(y(0.0) + 4.0) {}
                    // The outer labels are kept inside the drawing.
                    @let anchor = if i == 0 { "start" } else if i + 1 == x_ticks.len() { "end" } else { "middle" };
                    text.label x=(x(*tx)) y=(H - 8.0) text-anchor=(anchor) { (label) }
                }
                @for s in series {
                    @if s.points.len() == 1 && !step {
                        circle class={ "dot " (s.class) } cx=(x(s.points[0].0)) cy=(y(s.points[0].1)) r="3" {}
                    } @else {
                        polyline class={ "series " (s.class) } points=(path(s)) {}
                    }
                }
            }
            figcaption {
                ul.legend {
                    @for s in series { li { span class={ "swatch " (s.class) } {} (s.label) } }
                }
            }
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `v` (and at least 1).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * magnitude >= v {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

/// 1500 → 1.5k, 2000000 → 2M.
fn short(v: f64) -> String {
    let (n, unit) = if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if n.fract() == 0.0 {
        format!("{n:.0}{unit}")
    } else {
        format!("{n:.1}{unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(1_999_990.0), 2_000_000.0);
        assert_eq!(short(2_000_000.0), "2M");
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(5.0), "5");
    }

    #[test]
    fn a_chart_is_svg_with_a_title_and_a_line_per_series() {
        let s = Series {
            label: "checks".into(),
            class: "s1",
            points: vec![(0.0, 1.0), (1.0, 3.0)],
        };
        let svg = lines(
            "Checks",
            "per hour",
            (0.0, 1.0),
            &[(0.0, "00:00".into())],
            &[s],
            false,
        )
        .into_string();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(
            svg.contains("<title id=\"t-checks\">Checks</title>"),
            "{svg}"
        );
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(
            !svg.contains("style="),
            "no inline style: the CSP forbids it"
        );
    }
}
