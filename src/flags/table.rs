//! Every command-line flag flint accepts: Prometheus 3's (in the order its
//! `--help` lists them), the few Prometheus 2 flags that 3.0 removed, and
//! flint's own. Each row says what the flag does here, or why it changes
//! nothing.

/// How a flag takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `--name` / `--no-name`.
    Bool,
    /// `--name=value` or `--name value`, once.
    Value,
    /// Like `Value`, but may be given again; the values add up.
    List,
}

/// In which mode a flag may be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Server and agent alike.
    Both,
    /// Server mode only (refused with `--agent`).
    Server,
    /// Agent mode only (refused without `--agent`).
    Agent,
}

/// What a value must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Any text; `--help` shows the default quoted.
    Text,
    /// A list of texts; the default is shown bare.
    Texts,
    /// Prometheus's duration syntax (`1h30m`).
    Duration,
    /// Go's duration syntax (`1.5s`, `2ms`).
    GoDuration,
    /// An integer (written as a float, like `5e7`, truncated).
    Int,
    /// A strict integer.
    Int64,
    /// A float.
    Float,
    /// A byte size (`512MB`).
    Bytes,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Any number of these words, each once.
    SomeOf(&'static [&'static str]),
    /// A boolean.
    Bool,
}

/// What a flag changes in flint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// It does what Prometheus's does.
    Applies,
    /// It is accepted and shown but changes nothing, for this reason.
    Ignored(&'static str),
}

/// Where a flag comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Prometheus 3's `prometheus` binary.
    Prometheus,
    /// A flag Prometheus 2 had and 3.0 removed; accepted so 2.x command
    /// lines keep working.
    Prometheus2,
    /// flint's own.
    Flint,
}

/// One flag.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The name, without the leading `--`.
    pub name: &'static str,
    /// How it takes its value.
    pub kind: Kind,
    /// The value when not given (several for lists).
    pub default: &'static [&'static str],
    /// What `--help` shows instead of the default (`<URL>`), if anything.
    pub placeholder: Option<&'static str>,
    /// What a value must look like.
    pub check: Check,
    /// Left out of `--help`.
    pub hidden: bool,
    /// Where it may be given.
    pub mode: Mode,
    /// What it changes in flint.
    pub effect: Effect,
    /// Where it comes from.
    pub origin: Origin,
    /// One line of help.
    pub help: &'static str,
}

const fn flag(name: &'static str, kind: Kind, check: Check, help: &'static str) -> Spec {
    Spec {
        name,
        kind,
        default: &[],
        placeholder: None,
        check,
        hidden: false,
        mode: Mode::Both,
        effect: Effect::Applies,
        origin: Origin::Prometheus,
        help,
    }
}

const fn boolean(name: &'static str, help: &'static str) -> Spec {
    flag(name, Kind::Bool, Check::Bool, help)
}

const fn value(name: &'static str, check: Check, help: &'static str) -> Spec {
    flag(name, Kind::Value, check, help)
}

impl Spec {
    const fn default(mut self, d: &'static [&'static str]) -> Self {
        self.default = d;
        self
    }
    const fn placeholder(mut self, p: &'static str) -> Self {
        self.placeholder = Some(p);
        self
    }
    const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }
    const fn server(mut self) -> Self {
        self.mode = Mode::Server;
        self
    }
    const fn agent(mut self) -> Self {
        self.mode = Mode::Agent;
        self
    }
    const fn ignored(mut self, why: &'static str) -> Self {
        self.effect = Effect::Ignored(why);
        self
    }
    const fn list(mut self) -> Self {
        self.kind = Kind::List;
        self
    }
    const fn prometheus2(mut self) -> Self {
        self.origin = Origin::Prometheus2;
        self.hidden = true;
        self
    }
    const fn flint(mut self) -> Self {
        self.origin = Origin::Flint;
        self
    }
}

const NO_GC: &str = "flint has no garbage collector to tune";
const NO_WAL: &str =
    "flint keeps no write-ahead log: samples go straight into memory-mapped chunk files";
const BLOCKS: &str =
    "flint writes 2h blocks and merges them into 6h, 18h, ... blocks on its own schedule";
const AGENT: &str = "agent mode keeps its samples in the same storage as server mode";

/// Every flag, in the order `--help` lists them.
pub static FLAGS: &[Spec] = &[
    boolean("help", "Show this help (also try --help-long and --help-man)."),
    boolean("help-long", "Show this help with the subcommands' flags too.").hidden(),
    boolean("help-man", "Show the help as a man page.").hidden(),
    boolean("completion-bash", "Print the flags, for shell completion.").hidden(),
    boolean("completion-script-bash", "Print a bash completion script.").hidden(),
    boolean("completion-script-zsh", "Print a zsh completion script.").hidden(),
    boolean("version", "Show the version and build information."),
    value("config.file", Check::Text, "The prometheus.yml to load.").default(&["prometheus.yml"]),
    boolean(
        "config.auto-reload",
        "Reload the configuration when its file, or a rule or scrape config file it names, changes.",
    ),
    value(
        "config.auto-reload-interval",
        Check::Duration,
        "How often --config.auto-reload looks for changes (at least 1s).",
    )
    .default(&["30s"]),
    value(
        "web.listen-address",
        Check::Texts,
        "Address to serve the UI, API and metrics on; may be given more than once.",
    )
    .list()
    .default(&["0.0.0.0:9090"]),
    boolean("auto-gomaxprocs", "Size the worker threads to the container's CPU quota.")
        .default(&["true"])
        .ignored("flint's worker threads always follow the CPU quota"),
    boolean("auto-gomemlimit", "Set a memory limit from the container's.")
        .default(&["true"])
        .ignored(NO_GC),
    value(
        "auto-gomemlimit.ratio",
        Check::Float,
        "The share of the container's memory limit to aim for, in (0, 1].",
    )
    .default(&["0.9"])
    .ignored(NO_GC),
    value(
        "web.config.file",
        Check::Text,
        "A web configuration file: TLS, basic authentication, response headers.",
    )
    .default(&[""]),
    value(
        "web.read-timeout",
        Check::Duration,
        "How long reading one request, body included, may take.",
    )
    .default(&["5m"]),
    value(
        "web.max-connections",
        Check::Int,
        "Most connections served at once, over all listen addresses (0: no limit).",
    )
    .default(&["512"]),
    value(
        "web.max-notifications-subscribers",
        Check::Int,
        "Most clients of the UI's live notifications.",
    )
    .default(&["16"])
    .ignored("flint's UI has no live notification stream"),
    value(
        "web.external-url",
        Check::Text,
        "The URL users reach flint by (behind a proxy, say): used in links, and its path prefixes every route.",
    )
    .placeholder("<URL>"),
    value(
        "web.route-prefix",
        Check::Text,
        "Prefix of every route (default: the path of --web.external-url).",
    )
    .placeholder("<path>"),
    value(
        "web.user-assets",
        Check::Text,
        "A folder of files to serve under /user.",
    )
    .placeholder("<path>"),
    boolean("web.enable-lifecycle", "Allow shutdown and reload by HTTP (/-/quit, /-/reload)."),
    boolean("web.enable-admin-api", "Allow the admin API (snapshots, series deletion)."),
    boolean(
        "web.enable-remote-write-receiver",
        "Accept remote write requests on /api/v1/write.",
    ),
    value(
        "web.remote-write-receiver.accepted-protobuf-messages",
        Check::SomeOf(&["prometheus.WriteRequest", "io.prometheus.write.v2.Request"]),
        "The remote write messages the receiver accepts.",
    )
    .list()
    .default(&["prometheus.WriteRequest", "io.prometheus.write.v2.Request"]),
    boolean(
        "web.enable-otlp-receiver",
        "Accept OpenTelemetry metrics on /api/v1/otlp/v1/metrics.",
    ),
    value(
        "web.console.templates",
        Check::Text,
        "Folder of console templates.",
    )
    .default(&["consoles"])
    .ignored("flint serves no console templates"),
    value(
        "web.console.libraries",
        Check::Text,
        "Folder of console template libraries.",
    )
    .default(&["console_libraries"])
    .ignored("flint serves no console templates"),
    value("web.page-title", Check::Text, "The web UI's page title.")
        .default(&["Prometheus Time Series Collection and Processing Server"]),
    value(
        "web.cors.origin",
        Check::Text,
        "Origins allowed to call the API from a browser, as a fully anchored regex.",
    )
    .default(&[".*"]),
    value("storage.tsdb.path", Check::Text, "Folder of the stored data.")
        .default(&["data/"])
        .server(),
    value("storage.tsdb.min-block-duration", Check::Duration, "Time span of the first blocks.")
        .default(&["2h"])
        .hidden()
        .server()
        .ignored(BLOCKS),
    value("storage.tsdb.max-block-duration", Check::Duration, "Longest time span of a merged block.")
        .placeholder("<duration>")
        .hidden()
        .server()
        .ignored(BLOCKS),
    value(
        "storage.tsdb.max-block-chunk-segment-size",
        Check::Bytes,
        "Largest chunk file of a block.",
    )
    .placeholder("<bytes>")
    .hidden()
    .server()
    .ignored("a block keeps its chunks in one file"),
    value("storage.tsdb.wal-segment-size", Check::Bytes, "Size of a write-ahead log segment.")
        .placeholder("<bytes>")
        .hidden()
        .server()
        .ignored(NO_WAL),
    value(
        "storage.tsdb.retention.time",
        Check::Duration,
        "How long to keep samples (15d when neither this nor --storage.tsdb.retention.size is set).",
    )
    .server(),
    value(
        "storage.tsdb.retention.size",
        Check::Bytes,
        "Most bytes the blocks may take (512MB, 10GB; 0: no limit); the oldest go first.",
    )
    .server(),
    boolean("storage.tsdb.no-lockfile", "Do not lock the data folder.").server(),
    boolean(
        "storage.tsdb.allow-overlapping-compaction",
        "Merge blocks whose time ranges overlap.",
    )
    .default(&["true"])
    .hidden()
    .server()
    .ignored("flint's blocks never overlap"),
    boolean("storage.tsdb.wal-compression", "Compress the write-ahead log.")
        .default(&["true"])
        .hidden()
        .server()
        .ignored(NO_WAL),
    value(
        "storage.tsdb.wal-compression-type",
        Check::OneOf(&["snappy", "zstd"]),
        "How to compress the write-ahead log.",
    )
    .default(&["snappy"])
    .hidden()
    .server()
    .ignored(NO_WAL),
    value(
        "storage.tsdb.head-chunks-write-queue-size",
        Check::Int,
        "Queue of head chunks waiting to be written.",
    )
    .default(&["0"])
    .server()
    .ignored("head chunks are written in place, with no queue"),
    value("storage.tsdb.samples-per-chunk", Check::Int, "Samples in a head chunk.")
        .default(&["120"])
        .hidden()
        .server()
        .ignored("a head chunk closes at 120 samples or when its slot is full"),
    value(
        "storage.tsdb.delayed-compaction.max-percent",
        Check::Int,
        "Largest random delay of a head compaction, in percent of the block range.",
    )
    .default(&["10"])
    .hidden()
    .server()
    .ignored("head compactions are not delayed"),
    value(
        "storage.tsdb.delay-compact-file.path",
        Check::Text,
        "A Thanos shipper file whose uploads hold back block merges.",
    )
    .default(&[""])
    .server()
    .ignored("flint's blocks are not in Prometheus's format, so no shipper uploads them"),
    value(
        "storage.tsdb.block-reload-interval",
        Check::Duration,
        "How often the block folder is read again.",
    )
    .default(&["1m"])
    .hidden()
    .server()
    .ignored("blocks are loaded when flint writes them"),
    value("storage.agent.path", Check::Text, "Folder of the stored data in agent mode.")
        .default(&["data-agent/"])
        .agent(),
    value("storage.agent.wal-segment-size", Check::Bytes, "Size of a write-ahead log segment.")
        .placeholder("<bytes>")
        .hidden()
        .agent()
        .ignored(NO_WAL),
    boolean("storage.agent.wal-compression", "Compress the write-ahead log.")
        .default(&["true"])
        .agent()
        .ignored(NO_WAL),
    value(
        "storage.agent.wal-compression-type",
        Check::OneOf(&["snappy", "zstd"]),
        "How to compress the write-ahead log.",
    )
    .default(&["snappy"])
    .hidden()
    .agent()
    .ignored(NO_WAL),
    value(
        "storage.agent.wal-truncate-frequency",
        Check::Duration,
        "How often the write-ahead log is truncated.",
    )
    .placeholder("<duration>")
    .hidden()
    .agent()
    .ignored(NO_WAL),
    value(
        "storage.agent.retention.min-time",
        Check::Duration,
        "Samples younger than this are kept even when sent.",
    )
    .default(&["5m"])
    .agent(),
    value(
        "storage.agent.retention.max-time",
        Check::Duration,
        "Samples older than this are dropped even when not sent.",
    )
    .default(&["4h"])
    .agent(),
    boolean(
        "storage.agent.checkpoint-from-in-memory-series",
        "Build write-ahead log checkpoints from the series in memory.",
    )
    .agent()
    .ignored(AGENT),
    value(
        "storage.agent.checkpoint-batch-size",
        Check::Int,
        "Series per write-ahead log checkpoint batch.",
    )
    .default(&["1000"])
    .agent()
    .ignored(AGENT),
    boolean("storage.agent.no-lockfile", "Do not lock the data folder in agent mode.").agent(),
    value(
        "storage.remote.flush-deadline",
        Check::Duration,
        "How long a remote write queue may take to send what it holds when it stops.",
    )
    .default(&["1m"])
    .placeholder("<duration>"),
    value(
        "storage.remote.read-sample-limit",
        Check::Int,
        "Most samples one remote read query may return when not streamed (0: no limit).",
    )
    .default(&["5e7"])
    .server(),
    value(
        "storage.remote.read-concurrent-limit",
        Check::Int,
        "Most remote read requests served at once (0: no limit).",
    )
    .default(&["10"])
    .server(),
    value(
        "storage.remote.read-max-bytes-in-frame",
        Check::Int,
        "Largest frame of a streamed remote read response, in bytes.",
    )
    .default(&["1048576"])
    .server(),
    value(
        "web.search.max-limit",
        Check::Int,
        "Most results of the search API.",
    )
    .default(&["10000"])
    .server()
    .ignored("flint has no search API"),
    value(
        "rules.alert.for-outage-tolerance",
        Check::Duration,
        "Longest outage after which an alert's `for` state is still restored.",
    )
    .default(&["1h"])
    .server(),
    value(
        "rules.alert.for-grace-period",
        Check::Duration,
        "Least time between a restart and a restored alert firing.",
    )
    .default(&["10m"])
    .server(),
    value(
        "rules.alert.resend-delay",
        Check::Duration,
        "Least time before an alert is sent to Alertmanager again.",
    )
    .default(&["1m"])
    .server(),
    value(
        "rules.max-concurrent-evals",
        Check::Int64,
        "Most rules of a group evaluated at once (with concurrent-rule-eval).",
    )
    .default(&["4"])
    .server()
    .ignored("the rules of a group are evaluated one after another"),
    boolean(
        "scrape.adjust-timestamps",
        "Stamp a scrape that starts a little late with its slot on the schedule.",
    )
    .default(&["true"])
    .hidden(),
    value(
        "scrape.timestamp-tolerance",
        Check::GoDuration,
        "How late a scrape may start and still be stamped with its slot (at most 1% of the interval).",
    )
    .default(&["2ms"])
    .hidden(),
    value(
        "alertmanager.notification-queue-capacity",
        Check::Int,
        "Alerts the Alertmanager queue holds.",
    )
    .default(&["10000"])
    .server(),
    value(
        "alertmanager.notification-batch-size",
        Check::Int,
        "Most alerts sent to an Alertmanager in one request.",
    )
    .default(&["256"])
    .server(),
    boolean(
        "alertmanager.drain-notification-queue-on-shutdown",
        "Send the queued alerts before stopping.",
    )
    .default(&["true"])
    .server(),
    value(
        "query.lookback-delta",
        Check::Duration,
        "How far back an instant selector looks for a sample.",
    )
    .default(&["5m"])
    .server(),
    value("query.timeout", Check::Duration, "Longest a query may run.")
        .default(&["2m"])
        .server(),
    value(
        "query.max-concurrency",
        Check::Int,
        "Most queries evaluated at once; more wait their turn.",
    )
    .default(&["20"])
    .server(),
    value(
        "query.max-samples",
        Check::Int,
        "Most samples one query may hold in memory.",
    )
    .default(&["50000000"])
    .server(),
    value(
        "scrape.discovery-reload-interval",
        Check::Duration,
        "Least time between two updates of the targets from discovery.",
    )
    .default(&["5s"])
    .hidden()
    .ignored("targets follow discovery as soon as it reports a change"),
    value(
        "enable-feature",
        Check::Texts,
        "Comma separated feature names to enable (the PromQL ones are always on in flint).",
    )
    .list(),
    boolean("agent", "Run in agent mode: scrape and forward by remote write, no local queries."),
    value(
        "log.level",
        Check::OneOf(&["debug", "info", "warn", "error"]),
        "Log messages of this severity and above: debug, info, warn, error.",
    )
    .default(&["info"]),
    value(
        "log.format",
        Check::OneOf(&["logfmt", "json"]),
        "Log format: logfmt, json.",
    )
    .default(&["logfmt"]),
    boolean("write-documentation", "Print the flags as a Markdown table.").hidden(),
    // Prometheus 2.x flags that 3.0 dropped
    value(
        "storage.tsdb.retention",
        Check::Duration,
        "Former name of --storage.tsdb.retention.time.",
    )
    .server()
    .prometheus2(),
    value(
        "alertmanager.timeout",
        Check::Duration,
        "Former timeout of Alertmanager requests.",
    )
    .server()
    .prometheus2()
    .ignored("an Alertmanager's `timeout` is set in the configuration file"),
    boolean(
        "storage.tsdb.allow-overlapping-blocks",
        "Former switch for overlapping blocks.",
    )
    .server()
    .prometheus2()
    .ignored("flint's blocks never overlap"),
    value(
        "web.local-assets",
        Check::Text,
        "Folder of the web UI's files.",
    )
    .prometheus2()
    .ignored("the web UI is built into the binary"),
    // flint's own
    value(
        "web.remote-write-max-bytes",
        Check::Bytes,
        "Largest remote write or import request accepted, decompressed; larger ones get 413.",
    )
    .default(&["64MB"])
    .flint(),
    boolean(
        "storage.tsdb.takeover.delete-original",
        "After taking over a Prometheus data directory, delete Prometheus's files (kept in prometheus-original/ otherwise).",
    )
    .server()
    .flint(),
];

/// The flag called `name`.
pub fn spec(name: &str) -> Option<&'static Spec> {
    FLAGS.iter().find(|s| s.name == name)
}
