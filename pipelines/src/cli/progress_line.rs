//! The progress line of `sluice connect`: while a task of this worker is through part of a bounded piece of
//! work (a snapshot, a generator's fixed count), stderr shows how far. At a terminal one line is redrawn in
//! place (`\r`, cleared first so a log line in between is not mixed into it): a bar, percent, rate and ETA.
//! Elsewhere (pipes, CI logs) a plain line per task at most every [`PLAIN_EVERY`], plus one line when a task
//! finishes. Stdout is never touched: it carries only the ready line.
//!
//! [`Renderer`] decides what to show from the worker's progress reports and the time; the formatting helpers
//! are pure functions; [`show`] is the loop that samples the herder and writes to stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_connect::runtime::herder::{Herder, TaskId};
use sluice_connect::runtime::progress::Progress;

/// At most this often a plain (not a terminal) progress line per task.
pub(crate) const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the reports are sampled at a terminal (smooth enough to look alive) and elsewhere.
const TTY_TICK: Duration = Duration::from_millis(200);
const PLAIN_TICK: Duration = Duration::from_millis(250);
/// The width of the bar between its brackets.
const BAR_WIDTH: usize = 20;
/// The line is cut to the terminal's width (`COLUMNS`, else this) so it never wraps, which would break `\r`.
const DEFAULT_COLUMNS: usize = 100;

/// `--no-progress`, shared by `sluice connect standalone` and `distributed`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ProgressArgs {
    /// Do not show how far tasks are through bounded work (snapshots, datagen `iterations`) on stderr.
    #[arg(long, env = "SLUICE_NO_PROGRESS")]
    pub(crate) no_progress: bool,
}

/// Where the line goes, which decides its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A terminal: one line redrawn in place.
    Tty,
    /// A pipe or file: plain lines, throttled.
    Plain,
}

impl Mode {
    /// The mode for stderr as it is, or `None` when the user turned the line off.
    pub(crate) fn for_stderr(args: &ProgressArgs) -> Option<Mode> {
        use std::io::IsTerminal;
        if args.no_progress {
            None
        } else if std::io::stderr().is_terminal() {
            Some(Mode::Tty)
        } else {
            Some(Mode::Plain)
        }
    }
}

/// What to write after one look at the reports.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Frame {
    /// Lines to keep (progress in plain mode, "done" lines in both).
    pub(crate) lines: Vec<String>,
    /// Terminal only: the line to show in place, `None` when nothing is under way.
    pub(crate) redraw: Option<String>,
}

/// Decides, report after report, which lines to show; remembers what it showed per piece of work (a task and
/// the start of its work, so a restarted task counts as new work).
#[derive(Debug)]
pub(crate) struct Renderer {
    mode: Mode,
    columns: usize,
    /// Plain mode: when each unfinished piece of work was last shown.
    shown: BTreeMap<(TaskId, Instant), Instant>,
    /// Pieces of work whose end was handled (shown, or finished before anything happened here).
    ended: BTreeSet<(TaskId, Instant)>,
}

impl Renderer {
    pub(crate) fn new(mode: Mode, columns: usize) -> Renderer {
        Renderer { mode, columns, shown: BTreeMap::new(), ended: BTreeSet::new() }
    }

    /// What to show for the reports `tasks` at `now`.
    pub(crate) fn frame(&mut self, tasks: &[(TaskId, Progress)], now: Instant) -> Frame {
        let mut frame = Frame::default();
        let mut active = Vec::new();
        for (id, progress) in tasks {
            let key = (id.clone(), progress.started);
            if progress.finished() {
                // A task that resumed already complete did nothing here: no "done" line for it.
                if self.ended.insert(key) && progress.updated > progress.started {
                    frame.lines.push(done_line(id, progress));
                }
                continue;
            }
            if self.mode == Mode::Plain {
                let due = self.shown.get(&key).is_none_or(|last| now.saturating_duration_since(*last) >= PLAIN_EVERY);
                if due {
                    frame.lines.push(status_line(id, progress));
                    self.shown.insert(key, now);
                }
            }
            active.push((id, progress));
        }
        // Forget work no longer reported (tasks stopped), so memory stays bounded by the tasks running.
        let current: BTreeSet<_> = tasks.iter().map(|(id, p)| (id.clone(), p.started)).collect();
        self.shown.retain(|key, _| current.contains(key));
        self.ended.retain(|key| current.contains(key));
        if self.mode == Mode::Tty && !active.is_empty() {
            frame.redraw = Some(truncate(&tty_line(&active), self.columns.saturating_sub(1)));
        }
        frame
    }
}

/// Samples the herder's progress reports and writes to stderr until `stop` fires, then clears a line left
/// drawn at a terminal.
pub(crate) async fn show(herder: Arc<dyn Herder>, mode: Mode, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).unwrap_or(DEFAULT_COLUMNS);
    let mut renderer = Renderer::new(mode, columns);
    let mut ticker = tokio::time::interval(if mode == Mode::Tty { TTY_TICK } else { PLAIN_TICK });
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut drawn: Option<String> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stop => break,
        }
        let frame = renderer.frame(&herder.progress(), Instant::now());
        if frame.lines.is_empty() && frame.redraw == drawn {
            continue;
        }
        let mut out = String::new();
        if drawn.is_some() {
            out.push_str(CLEAR_LINE);
        }
        for line in &frame.lines {
            out.push_str(line);
            out.push('\n');
        }
        if let Some(line) = &frame.redraw {
            out.push_str(line);
        }
        drawn = frame.redraw;
        write_stderr(&out);
    }
    if drawn.is_some() {
        write_stderr(CLEAR_LINE);
    }
}

/// Back to the start of the line and erase it (ANSI), before a redraw or a permanent line.
const CLEAR_LINE: &str = "\r\x1b[2K";

/// Progress is a courtesy: a stderr that cannot be written to must not disturb the worker.
fn write_stderr(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
}

/// How a task is named in the lines: `<connector>-<task>`, as Kafka Connect names task threads.
pub(crate) fn task_name(id: &TaskId) -> String {
    format!("{}-{}", id.connector, id.task)
}

/// `gen-0: generating orders into t: 12,000/50,000 records (24%), 8,100 records/s, ETA 5s`; without a known
/// total only the count and rate.
pub(crate) fn status_line(id: &TaskId, progress: &Progress) -> String {
    let mut line = format!("{}: {}: {}", task_name(id), progress.what, count(progress.done, progress.total));
    line.push(' ');
    line.push_str(&progress.unit);
    if let Some(percent) = percent(progress.done, progress.total) {
        line.push_str(&format!(" ({percent}%)"));
    }
    push_rate_and_eta(&mut line, progress.rate(), progress.eta(), &progress.unit);
    line
}

/// `gen-0: generating orders into t done: 50,000 records in 6.2s`.
pub(crate) fn done_line(id: &TaskId, progress: &Progress) -> String {
    format!(
        "{}: {} done: {} {} in {}",
        task_name(id),
        progress.what,
        group_digits(progress.done),
        progress.unit,
        elapsed(progress.elapsed())
    )
}

/// The terminal line: one task with a bar, or several summed when they count the same unit towards known
/// totals, else the first with how many more there are.
pub(crate) fn tty_line(active: &[(&TaskId, &Progress)]) -> String {
    let Some(((first_id, first), rest)) = active.split_first() else {
        return String::new();
    };
    let summable = rest.iter().all(|(_, p)| p.unit == first.unit) && active.iter().all(|(_, p)| p.total.is_some());
    if rest.is_empty() || !summable {
        let mut line = format!("{}: {} ", task_name(first_id), first.what);
        push_figures(&mut line, first.done, first.total, &first.unit, first.rate(), first.eta());
        if !rest.is_empty() {
            line.push_str(&format!(" (+{} more)", rest.len()));
        }
        return line;
    }
    let done: u64 = active.iter().map(|(_, p)| p.done).sum();
    let total: u64 = active.iter().filter_map(|(_, p)| p.total).sum();
    let rates: Vec<f64> = active.iter().filter_map(|(_, p)| p.rate()).collect();
    let rate = (rates.len() == active.len()).then(|| rates.iter().sum::<f64>());
    let eta = rate.and_then(|r| eta(done, total, r));
    let mut line = format!("{} tasks: ", active.len());
    push_figures(&mut line, done, Some(total), &first.unit, rate, eta);
    line
}

/// `[====>     ] 45% 22,500/50,000 records, 8,100 records/s, ETA 3s` (bar and percent only with a total).
fn push_figures(
    line: &mut String,
    done: u64,
    total: Option<u64>,
    unit: &str,
    rate: Option<f64>,
    eta: Option<Duration>,
) {
    if let Some(percent) = percent(done, total) {
        let fraction = total.map_or(0.0, |t| if t == 0 { 1.0 } else { done as f64 / t as f64 });
        line.push_str(&format!("{} {percent:>3}% ", bar(fraction, BAR_WIDTH)));
    }
    line.push_str(&format!("{} {unit}", count(done, total)));
    push_rate_and_eta(line, rate, eta, unit);
}

fn push_rate_and_eta(line: &mut String, rate: Option<f64>, eta: Option<Duration>, unit: &str) {
    if let Some(rate) = rate {
        line.push_str(&format!(", {}", per_second(rate, unit)));
    }
    if let Some(eta) = eta {
        line.push_str(&format!(", ETA {}", duration(eta)));
    }
}

/// The time left for `total - done` units at `rate` per second, when anything moves.
pub(crate) fn eta(done: u64, total: u64, rate: f64) -> Option<Duration> {
    let left = total.saturating_sub(done);
    if left == 0 {
        return Some(Duration::ZERO);
    }
    (rate > 0.0).then(|| Duration::from_secs_f64((left as f64 / rate).min(u32::MAX as f64)))
}

/// `12,000/50,000`, or `12,000` when the total is unknown.
pub(crate) fn count(done: u64, total: Option<u64>) -> String {
    match total {
        Some(total) => format!("{}/{}", group_digits(done), group_digits(total)),
        None => group_digits(done),
    }
}

/// `1234567` → `1,234,567`.
pub(crate) fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The whole percent done, rounded down so 100 means finished; `None` without a total.
pub(crate) fn percent(done: u64, total: Option<u64>) -> Option<u64> {
    match total? {
        0 => Some(100),
        total => Some((u128::from(done.min(total)) * 100 / u128::from(total)) as u64),
    }
}

/// `8,100 records/s`; one decimal below 10 per second, so a slow task does not show 0.
pub(crate) fn per_second(rate: f64, unit: &str) -> String {
    if rate < 9.95 {
        format!("{rate:.1} {unit}/s")
    } else {
        format!("{} {unit}/s", group_digits(rate.round() as u64))
    }
}

/// An estimate: `5s`, `2m05s`, `1h02m` (seconds rounded up, so a second left never shows as 0s).
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// A time taken: `6.2s` under a minute, else as [`duration`].
pub(crate) fn elapsed(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        duration(d)
    }
}

/// `[=========>          ]` for `fraction` of `width` cells.
pub(crate) fn bar(fraction: f64, width: usize) -> String {
    let filled = ((fraction.clamp(0.0, 1.0) * width as f64).floor() as usize).min(width);
    let mut out = String::with_capacity(width + 2);
    out.push('[');
    for i in 0..width {
        out.push(match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        });
    }
    out.push(']');
    out
}

/// At most `max` characters, so the line fits the terminal.
pub(crate) fn truncate(line: &str, max: usize) -> String {
    line.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(task: usize) -> TaskId {
        TaskId { connector: "gen".into(), task }
    }

    /// A report of `done` of `total` records, `secs` after `started`, having begun at `first_done`.
    fn report(started: Instant, done: u64, total: Option<u64>, secs: f64) -> Progress {
        Progress {
            what: "generating orders into t".into(),
            unit: "records".into(),
            done,
            total,
            started,
            updated: started + Duration::from_secs_f64(secs),
            first_done: 0,
        }
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        let cases = [(0, "0"), (999, "999"), (1_000, "1,000"), (12_000, "12,000"), (1_234_567, "1,234,567")];
        for (n, text) in cases {
            assert_eq!(group_digits(n), text);
        }
        assert_eq!(group_digits(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn percent_rounds_down_and_needs_a_total() {
        assert_eq!(percent(12_000, Some(50_000)), Some(24));
        assert_eq!(percent(49_999, Some(50_000)), Some(99), "100% only when finished");
        assert_eq!(percent(50_000, Some(50_000)), Some(100));
        assert_eq!(percent(7, Some(5)), Some(100), "never above 100");
        assert_eq!(percent(0, Some(0)), Some(100), "nothing to do is done");
        assert_eq!(percent(u64::MAX, Some(u64::MAX)), Some(100));
        assert_eq!(percent(12, None), None);
    }

    #[test]
    fn rates_durations_and_etas_read_naturally() {
        assert_eq!(per_second(8_100.4, "records"), "8,100 records/s");
        assert_eq!(per_second(0.25, "rows"), "0.2 rows/s");
        assert_eq!(per_second(12.0, "rows"), "12 rows/s");
        assert_eq!(duration(Duration::from_millis(4_200)), "5s", "rounded up");
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(duration(Duration::from_secs(3_720)), "1h02m");
        assert_eq!(elapsed(Duration::from_millis(6_240)), "6.2s");
        assert_eq!(elapsed(Duration::from_secs(61)), "1m01s");
        assert_eq!(eta(12_000, 50_000, 8_000.0), Some(Duration::from_millis(4_750)));
        assert_eq!(eta(10, 10, 0.0), Some(Duration::ZERO));
        assert_eq!(eta(1, 10, 0.0), None, "nothing moves: no estimate");
        assert_eq!(bar(0.45, 10), "[====>     ]");
        assert_eq!(bar(0.0, 4), "[>   ]");
        assert_eq!(bar(1.0, 4), "[====]");
        assert_eq!(truncate("abcdef", 4), "abcd");
    }

    #[test]
    fn lines_name_the_task_the_work_and_the_figures() {
        let start = Instant::now();
        let p = report(start, 12_000, Some(50_000), 1.5);
        assert_eq!(
            status_line(&id(0), &p),
            "gen-0: generating orders into t: 12,000/50,000 records (24%), 8,000 records/s, ETA 5s"
        );
        let unknown = report(start, 12_000, None, 0.0);
        assert_eq!(status_line(&id(1), &unknown), "gen-1: generating orders into t: 12,000 records");
        let done = report(start, 50_000, Some(50_000), 6.2);
        assert_eq!(done_line(&id(0), &done), "gen-0: generating orders into t done: 50,000 records in 6.2s");
        assert_eq!(
            tty_line(&[(&id(0), &p)]),
            "gen-0: generating orders into t [====>               ]  24% 12,000/50,000 records, 8,000 records/s, ETA 5s"
        );
        let other = report(start, 8_000, Some(50_000), 1.0);
        assert_eq!(
            tty_line(&[(&id(0), &p), (&id(1), &other)]),
            "2 tasks: [====>               ]  20% 20,000/100,000 records, 16,000 records/s, ETA 5s"
        );
        assert_eq!(
            tty_line(&[(&id(1), &unknown), (&id(0), &p)]),
            "gen-1: generating orders into t 12,000 records (+1 more)",
            "an unknown total cannot be summed"
        );
    }

    #[test]
    fn plain_lines_come_at_most_every_few_seconds_then_one_done_line() {
        let mut renderer = Renderer::new(Mode::Plain, 80);
        let t0 = Instant::now();
        let tick = |secs: u64| t0 + Duration::from_secs(secs);
        let first = renderer.frame(&[(id(0), report(t0, 0, Some(100), 0.0))], tick(0));
        assert_eq!(first.lines, vec!["gen-0: generating orders into t: 0/100 records (0%)".to_string()]);
        assert_eq!(first.redraw, None, "no redrawn line off a terminal");
        assert!(renderer.frame(&[(id(0), report(t0, 40, Some(100), 2.0))], tick(2)).lines.is_empty());
        let later = renderer.frame(&[(id(0), report(t0, 90, Some(100), 5.0))], tick(5));
        assert_eq!(later.lines.len(), 1, "{later:?}");
        assert!(later.lines[0].contains("90/100 records (90%)"), "{later:?}");
        let done = renderer.frame(&[(id(0), report(t0, 100, Some(100), 5.5))], tick(6));
        assert_eq!(done.lines, vec!["gen-0: generating orders into t done: 100 records in 5.5s".to_string()]);
        assert!(renderer.frame(&[(id(0), report(t0, 100, Some(100), 5.5))], tick(20)).lines.is_empty(), "once");

        // A task restarted finds its work complete at once: it did nothing here, so nothing is said.
        let t1 = tick(30);
        assert_eq!(renderer.frame(&[(id(0), report(t1, 100, Some(100), 0.0))], t1), Frame::default());
        // Work with no known total is shown but never ends.
        let open = renderer.frame(&[(id(1), report(t1, 5, None, 1.0))], t1);
        assert_eq!(open.lines, vec!["gen-1: generating orders into t: 5 records, 5.0 records/s".to_string()]);
    }

    #[test]
    fn a_terminal_gets_one_redrawn_line_and_done_lines_that_stay() {
        let mut renderer = Renderer::new(Mode::Tty, 40);
        let t0 = Instant::now();
        let a = report(t0, 10, Some(100), 1.0);
        let frame = renderer.frame(&[(id(0), a.clone()), (id(1), report(t0, 100, Some(100), 2.0))], t0);
        assert_eq!(frame.lines, vec!["gen-1: generating orders into t done: 100 records in 2.0s".to_string()]);
        let line = frame.redraw.expect("a line while gen-0 works");
        assert_eq!(line.chars().count(), 39, "cut to the terminal's width: {line}");
        assert!(line.starts_with("gen-0: generating orders into t [="), "{line}");
        let finished = renderer.frame(&[(id(0), report(t0, 100, Some(100), 3.0))], t0 + Duration::from_secs(3));
        assert_eq!(finished.lines.len(), 1);
        assert_eq!(finished.redraw, None, "nothing left under way");
    }
}
