//! How the library's events reach the terminal. The library never prints: it emits
//! `tracing` events (warnings, plugin log lines, retries), and this subscriber renders
//! each as one line on stderr: `warning: …`, `error: …`, or the bare message, scrubbed
//! of the run's secrets ([`super::secrets`]).

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the stderr renderer for forge's own events (dependencies' are dropped).
pub fn init() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).event_format(Lines).with_filter(
        tracing_subscriber::filter::filter_fn(|meta| {
            meta.target().starts_with("forge") && *meta.level() <= Level::INFO
        }),
    );
    // Only fails when a subscriber is already set (a second call): keep the first.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
}

/// One line per event, prefixed by its severity when it is not plain information.
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        match *event.metadata().level() {
            Level::ERROR => writer.write_str("error: ")?,
            Level::WARN => writer.write_str("warning: ")?,
            _ => {}
        }
        // Rendered whole, then scrubbed: a plugin's log line may quote its config.
        let mut line = String::new();
        ctx.field_format().format_fields(Writer::new(&mut line), event)?;
        writer.write_str(&super::secrets::scrub(&line))?;
        writeln!(writer)
    }
}
