//! ECI 2018-08-08: container groups (serverless pods), their containers' lifecycles, events and
//! logs.
//!
//! ```text
//!   CreateContainerGroup ──▶ ContainerGroup { spec, generation { started_ms, restart_base } }
//!   UpdateContainerGroup ──▶ same group, new spec, new generation (old events kept)
//!
//!   observe(spec, generation, timing, now)            (pure: nothing runs in the background)
//!     ├ generation age < pending_ms              Scheduling  (Updating after an update)
//!     ├ age < pending_ms + starting_ms           Pending     (images being pulled)
//!     ├ an image is missing                      Failed      (ErrImagePull)
//!     ├ init containers, one after another       Pending
//!     └ containers, all started together        Running ─▶ Succeeded | Failed
//! ```
//!
//! ## The simulated runtime
//! No container really runs. What a container does is read from its command and arguments:
//! * `sh -c "<script>"` (also `bash`, `ash`, `dash`, `/bin/sh`) runs the script's statements,
//!   separated by `;`, `&&` or newlines; any other command line is one statement.
//! * `echo …` prints a line; `sleep S` waits S seconds (fractions allowed, `infinity` never ends);
//!   `exit N` ends the run with code N; `true`/`:` succeed; `false` sets the status to 1.
//! * Anything else (`nginx`, `python app.py`…), and an empty command (the image's entrypoint), is
//!   a server: it keeps running.
//! * Reaching the end of the script exits with the status of its last statement.
//! * An image whose name contains `doesnotexist` or `notfound` cannot be pulled.
//!
//! Every run of a container behaves the same. Restarts follow the group's `RestartPolicy` as the
//! kubelet does: `Always` restarts any exit, `OnFailure` a non-zero one, `Never` none; the wait
//! before a restart is 10 s doubling up to 5 min (CrashLoopBackOff). Init containers restart on
//! failure unless the policy is `Never`. Images are pulled once per generation, during the
//! `starting_ms` that follows the `pending_ms` of scheduling.
//!
//! ## Sizing and limits
//! A group's size is its `InstanceType`'s, else its `Cpu` and `Memory` (given together), else
//! what its containers ask for (their sum, or the largest init container when that is more),
//! else ECI's default of 2 vCPU and 4 GiB. It may have at most 64 vCPU and 1 to 8 GiB per vCPU,
//! and its containers must fit in it. A group holds at most 20 containers, init containers
//! included, with DNS-label names unique in the group.
//!
//! ## Not emulated
//! Deletion is immediate (no `Terminating`); `Restarting`, `ScheduleFailed` and `Expired` never
//! occur; volumes, probes, EIPs and image caches are accepted by the SDK but ignored. The
//! not-found code `InvalidContainerGroupId.NotFound` follows the other products' style; the
//! real ECI code could not be confirmed from the documentation at hand.

use crate::call::Call;
use crate::catalog::{self, Region};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, region_param};
use crate::reply::Reply;
use crate::world::{InstanceTiming, World, format_seconds, new_id};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The API version this module serves.
pub const VERSION: &str = "2018-08-08";

/// Containers (init containers included) one group may hold.
pub const MAX_CONTAINERS: usize = 20;
/// vCPUs one group may have.
pub const MAX_VCPU: f64 = 64.0;
/// Memory per vCPU, in GiB, that a group may have: at least this…
pub const MIN_GIB_PER_VCPU: f64 = 1.0;
/// …and at most this.
pub const MAX_GIB_PER_VCPU: f64 = 8.0;
/// Ids in one DescribeContainerGroups, and its largest `Limit`.
const MAX_PAGE: usize = 20;
/// Tags per group.
const MAX_TAGS: usize = 20;
/// The size of a group whose request names no resources at all (ECI's default, 2 vCPU 4 GiB).
const DEFAULT_CPU: f64 = 2.0;
/// The kubelet's first restart back-off.
const BACKOFF_BASE_MS: i64 = 10_000;
/// The kubelet's longest restart back-off.
const BACKOFF_CAP_MS: i64 = 300_000;
/// Events kept from earlier generations of a group.
const MAX_PAST_EVENTS: usize = 200;

/// The emulated container groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerGroups {
    /// Groups by id.
    #[serde(default)]
    pub groups: BTreeMap<String, ContainerGroup>,
}

/// When a group's containers are restarted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    /// After every exit.
    #[default]
    Always,
    /// After a non-zero exit.
    OnFailure,
    /// Never.
    Never,
}

impl RestartPolicy {
    fn parse(param: &str, value: &str) -> ApiResult<Self> {
        match value {
            "Always" => Ok(Self::Always),
            "OnFailure" => Ok(Self::OnFailure),
            "Never" => Ok(Self::Never),
            other => Err(ApiError::invalid(
                param,
                format_args!("\"{other}\" is not one of Always, OnFailure, Never"),
            )),
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::OnFailure => "OnFailure",
            Self::Never => "Never",
        }
    }

    /// Whether a container that exited with `code` is started again.
    pub fn restarts(self, code: i32) -> bool {
        match self {
            Self::Always => true,
            Self::OnFailure => code != 0,
            Self::Never => false,
        }
    }

    /// The policy init containers follow: they must succeed, so only failures restart them.
    fn for_init(self) -> Self {
        match self {
            Self::Never => Self::Never,
            _ => Self::OnFailure,
        }
    }
}

/// One container as it was asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// Unique in the group, DNS-label-like.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// vCPUs (0 = unspecified).
    pub cpu: f64,
    /// GiB (0 = unspecified).
    pub memory: f64,
    /// Entrypoint.
    pub command: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Ports and their protocols.
    pub ports: Vec<(u16, String)>,
    /// `Always`, `IfNotPresent` or `Never`.
    pub image_pull_policy: String,
}

/// What a group runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Spec {
    /// Containers, started together.
    pub containers: Vec<ContainerSpec>,
    /// Init containers, run one after another before the containers.
    pub init_containers: Vec<ContainerSpec>,
    /// When containers restart.
    pub restart_policy: RestartPolicy,
}

/// The current spec's run: since when, and what it inherited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Generation {
    /// When this spec was created or applied.
    pub started_ms: i64,
    /// Whether an update started it (the group shows `Updating` instead of `Scheduling`/`Pending`).
    pub updated: bool,
    /// Restart counts carried over from earlier generations, by container name.
    pub restart_base: BTreeMap<String, u32>,
}

/// A Kubernetes-style event, aggregated by reason and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `Scheduled`, `Pulling`, `Pulled`, `Created`, `Started`, `BackOff`, `Failed`, `Killing`.
    pub reason: String,
    /// What happened.
    pub message: String,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// How many times it happened.
    pub count: u32,
    /// First occurrence.
    pub first_ms: i64,
    /// Last occurrence.
    pub last_ms: i64,
}

impl Event {
    fn once(reason: &str, kind: &str, message: String, at_ms: i64) -> Self {
        Self {
            reason: reason.to_owned(),
            message,
            kind: kind.to_owned(),
            count: 1,
            first_ms: at_ms,
            last_ms: at_ms,
        }
    }
}

/// An ECI container group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerGroup {
    /// `eci-…`.
    pub id: String,
    /// Name (not unique).
    pub name: String,
    /// Region id.
    pub region_id: String,
    /// Zone id.
    pub zone_id: String,
    /// The vSwitch's VPC.
    pub vpc_id: String,
    /// vSwitch id.
    pub vswitch_id: String,
    /// Security group id.
    pub security_group_id: String,
    /// The ECS type it runs on, when one was asked for.
    pub instance_type: String,
    /// `NoSpot`, `SpotAsPriceGo` or `SpotWithPriceLimit`.
    pub spot_strategy: String,
    /// Private address (the pod IP).
    pub intranet_ip: String,
    /// vCPUs.
    pub cpu: f64,
    /// GiB.
    pub memory: f64,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Creation time.
    pub created_ms: i64,
    /// What it runs.
    pub spec: Spec,
    /// Since when it runs it.
    pub generation: Generation,
    /// Events of earlier generations.
    #[serde(default)]
    pub past_events: Vec<Event>,
}

/// Handles an ECI action; `None` when ECI has no such action.
pub fn handle(action: &str, world: &mut World, call: &Call<'_>) -> Option<ApiResult<Reply>> {
    let value = match action {
        "CreateContainerGroup" => create_container_group(world, call),
        "DescribeContainerGroups" => describe_container_groups(world, call),
        "DeleteContainerGroup" => delete_container_group(world, call),
        "DescribeContainerLog" => describe_container_log(world, call),
        "UpdateContainerGroup" => update_container_group(world, call),
        _ => return None,
    };
    Some(value.map(Reply::from))
}

// ------------------------------------------------------------------------------------------
// The simulated runtime (pure)
// ------------------------------------------------------------------------------------------

// What a container "does" is read from its command line by the script simulation that ECI
// shares with kube-emu's simulated kubelets.
pub use kube_emu::machinery::script::{Script, script};

/// Whether pulling `image` fails (see the module header).
pub fn image_is_missing(image: &str) -> bool {
    let image = image.to_ascii_lowercase();
    image.contains("doesnotexist") || image.contains("notfound")
}

/// One run of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// When it started.
    pub start_ms: i64,
    /// When it exited and with which code; `None` while it runs.
    pub end: Option<(i64, i32)>,
}

/// A container's runs up to some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// Runs started so far.
    pub runs: u32,
    /// The first run's start.
    pub first_start_ms: i64,
    /// The latest run (running, or the last one that exited).
    pub current: Run,
    /// The run before it.
    pub previous: Option<Run>,
    /// When the container starts again, while it waits in back-off.
    pub next_restart_ms: Option<i64>,
    /// Exits followed by a restart back-off, with the first and last of them.
    pub backoffs: Option<(u32, i64, i64)>,
}

impl Timeline {
    /// Whether the container is done for good.
    pub fn finished(&self) -> Option<(i64, i32)> {
        self.current.end.filter(|_| self.next_restart_ms.is_none())
    }
}

/// The runs of a container that behaves as `script`, first started at `start_ms`, at `now_ms`;
/// `None` before it starts.
pub fn timeline(
    script: &Script,
    policy: RestartPolicy,
    start_ms: i64,
    now_ms: i64,
) -> Option<Timeline> {
    if now_ms < start_ms {
        return None;
    }
    let mut line = Timeline {
        runs: 1,
        first_start_ms: start_ms,
        current: Run {
            start_ms,
            end: None,
        },
        previous: None,
        next_restart_ms: None,
        backoffs: None,
    };
    let Some((duration, code)) = script.end else {
        return Some(line);
    };
    let mut start = start_ms;
    loop {
        let end = start.saturating_add(duration);
        if end > now_ms {
            return Some(line);
        }
        line.current.end = Some((end, code));
        if !policy.restarts(code) {
            return Some(line);
        }
        let shift = (line.runs - 1).min(6);
        let delay = (BACKOFF_BASE_MS << shift).min(BACKOFF_CAP_MS);
        let (count, first, _) = line.backoffs.unwrap_or((0, end, end));
        line.backoffs = Some((count + 1, first, end));
        let mut next = end.saturating_add(delay);
        if delay == BACKOFF_CAP_MS {
            // Every later cycle is the same; jump over all but the last whole one.
            let period = duration + BACKOFF_CAP_MS;
            let skip = (now_ms - next) / period - 1;
            if skip > 0 {
                let skip_u32 = u32::try_from(skip).unwrap_or(u32::MAX);
                next += skip * period;
                line.runs = line.runs.saturating_add(skip_u32);
                let (count, first, _) = line.backoffs.unwrap_or((0, end, end));
                line.backoffs = Some((count.saturating_add(skip_u32), first, next - delay));
                line.current = Run {
                    start_ms: next - period,
                    end: Some((next - delay, code)),
                };
            }
        }
        if next > now_ms {
            line.next_restart_ms = Some(next);
            return Some(line);
        }
        line.previous = Some(line.current);
        line.runs += 1;
        line.current = Run {
            start_ms: next,
            end: None,
        };
        start = next;
    }
}

/// `Waiting`, `Running` or `Terminated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// Not running yet, or between runs.
    Waiting,
    /// Running.
    Running,
    /// Exited.
    Terminated,
}

/// A container's state as DescribeContainerGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// The state.
    pub kind: StateKind,
    /// Why (`ContainerCreating`, `PodInitializing`, `ErrImagePull`, `CrashLoopBackOff`,
    /// `Completed`, `Error`; empty while running).
    pub reason: &'static str,
    /// Exit code, once terminated.
    pub exit_code: Option<i32>,
    /// When the run started.
    pub start_ms: Option<i64>,
    /// When it exited.
    pub finish_ms: Option<i64>,
}

impl ContainerState {
    fn waiting(reason: &'static str) -> Self {
        Self {
            kind: StateKind::Waiting,
            reason,
            exit_code: None,
            start_ms: None,
            finish_ms: None,
        }
    }

    fn of_run(run: Run) -> Self {
        match run.end {
            None => Self {
                kind: StateKind::Running,
                reason: "",
                exit_code: None,
                start_ms: Some(run.start_ms),
                finish_ms: None,
            },
            Some((end, code)) => Self {
                kind: StateKind::Terminated,
                reason: if code == 0 { "Completed" } else { "Error" },
                exit_code: Some(code),
                start_ms: Some(run.start_ms),
                finish_ms: Some(end),
            },
        }
    }
}

/// One container at some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerView {
    /// Now.
    pub current: ContainerState,
    /// The run before, if any.
    pub previous: Option<ContainerState>,
    /// Running (and, for an init container, exited 0).
    pub ready: bool,
    /// Restarts, including those of earlier generations.
    pub restart_count: u32,
    /// Its runs, once started: what its logs come from.
    pub timeline: Option<Timeline>,
}

impl ContainerView {
    fn waiting(reason: &'static str) -> Self {
        Self {
            current: ContainerState::waiting(reason),
            previous: None,
            ready: false,
            restart_count: 0,
            timeline: None,
        }
    }
}

/// A group's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStatus {
    /// Being placed.
    Scheduling,
    /// Pulling images or running init containers.
    Pending,
    /// Applying an update.
    Updating,
    /// At least one container runs or will restart.
    Running,
    /// Every container exited 0 and none restarts.
    Succeeded,
    /// An image could not be pulled, or a container exited non-zero for good.
    Failed,
}

impl GroupStatus {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduling => "Scheduling",
            Self::Pending => "Pending",
            Self::Updating => "Updating",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }
}

/// A group at some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Status.
    pub status: GroupStatus,
    /// When it reached `Succeeded` or `Failed`.
    pub ended_ms: Option<i64>,
    /// Containers, in spec order.
    pub containers: Vec<ContainerView>,
    /// Init containers, in spec order.
    pub init_containers: Vec<ContainerView>,
    /// Events of this generation, oldest first.
    pub events: Vec<Event>,
}

/// Where a group runs, for event messages.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    /// Group id.
    pub id: &'a str,
    /// Zone id.
    pub zone: &'a str,
}

fn container_events(events: &mut Vec<Event>, name: &str, line: &Timeline) {
    let last_start = line.current.start_ms;
    for (reason, message) in [
        ("Created", format!("Created container {name}")),
        ("Started", format!("Started container {name}")),
    ] {
        events.push(Event {
            count: line.runs,
            last_ms: last_start,
            ..Event::once(reason, "Normal", message, line.first_start_ms)
        });
    }
    if let Some((count, first, last)) = line.backoffs {
        events.push(Event {
            count,
            last_ms: last,
            ..Event::once(
                "BackOff",
                "Warning",
                format!("Back-off restarting failed container {name}"),
                first,
            )
        });
    }
}

fn view(line: Timeline, base: u32, init: bool) -> ContainerView {
    let (current, previous) = match line.next_restart_ms {
        Some(_) => (
            ContainerState::waiting("CrashLoopBackOff"),
            Some(ContainerState::of_run(line.current)),
        ),
        None => (
            ContainerState::of_run(line.current),
            line.previous.map(ContainerState::of_run),
        ),
    };
    let ready = match current.kind {
        StateKind::Running => !init,
        StateKind::Terminated => init && current.exit_code == Some(0),
        StateKind::Waiting => false,
    };
    ContainerView {
        current,
        previous,
        ready,
        restart_count: base + line.runs - 1,
        timeline: Some(line),
    }
}

/// What `spec`, run since `generation`, looks like at `now_ms` (see the module header).
pub fn observe(
    placed: Placed<'_>,
    spec: &Spec,
    generation: &Generation,
    timing: InstanceTiming,
    now_ms: i64,
) -> Observed {
    let t0 = generation.started_ms;
    let scheduled = t0 + timing.pending_ms.max(0);
    let pulled = scheduled + timing.starting_ms.max(0);
    let waiting_status = if generation.updated {
        GroupStatus::Updating
    } else {
        GroupStatus::Pending
    };
    let mut events = Vec::new();
    if !generation.updated && now_ms >= scheduled {
        events.push(Event::once(
            "Scheduled",
            "Normal",
            format!("Successfully assigned {} to {}", placed.id, placed.zone),
            scheduled,
        ));
    }
    let mut images: Vec<&str> = Vec::new();
    for c in spec.init_containers.iter().chain(&spec.containers) {
        if !images.contains(&c.image.as_str()) {
            images.push(&c.image);
        }
    }
    if now_ms >= scheduled {
        for image in &images {
            events.push(Event::once(
                "Pulling",
                "Normal",
                format!("Pulling image \"{image}\""),
                scheduled,
            ));
        }
    }
    let mut observed = Observed {
        status: waiting_status,
        ended_ms: None,
        containers: spec
            .containers
            .iter()
            .map(|_| ContainerView::waiting("ContainerCreating"))
            .collect(),
        init_containers: spec
            .init_containers
            .iter()
            .map(|_| ContainerView::waiting("ContainerCreating"))
            .collect(),
        events: Vec::new(),
    };
    if now_ms < pulled {
        if !generation.updated && now_ms < scheduled {
            observed.status = GroupStatus::Scheduling;
        }
        observed.events = events;
        return observed;
    }
    let mut missing = false;
    for image in &images {
        if image_is_missing(image) {
            missing = true;
            events.push(Event::once(
                "Failed",
                "Warning",
                format!(
                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to resolve reference \"{image}\": not found"
                ),
                pulled,
            ));
            events.push(Event::once(
                "Failed",
                "Warning",
                "Error: ErrImagePull".to_owned(),
                pulled,
            ));
        } else {
            events.push(Event::once(
                "Pulled",
                "Normal",
                format!("Successfully pulled image \"{image}\""),
                pulled,
            ));
        }
    }
    if missing {
        for (c, v) in spec
            .init_containers
            .iter()
            .zip(&mut observed.init_containers)
            .chain(spec.containers.iter().zip(&mut observed.containers))
        {
            if image_is_missing(&c.image) {
                v.current.reason = "ErrImagePull";
            }
        }
        observed.status = GroupStatus::Failed;
        observed.ended_ms = Some(pulled);
        observed.events = events;
        return observed;
    }

    // Init containers, one after another.
    let base = |name: &str| {
        generation
            .restart_base
            .get(name)
            .copied()
            .unwrap_or_default()
    };
    let mut start = pulled;
    let mut blocked = false;
    for (c, v) in spec
        .init_containers
        .iter()
        .zip(&mut observed.init_containers)
    {
        if blocked {
            break;
        }
        let script = script(&c.command, &c.args);
        let Some(line) = timeline(&script, spec.restart_policy.for_init(), start, now_ms) else {
            break;
        };
        container_events(&mut events, &c.name, &line);
        let finished = line.finished();
        *v = view(line, base(&c.name), true);
        match finished {
            Some((end, 0)) => start = end,
            Some((end, _)) => {
                observed.status = GroupStatus::Failed;
                observed.ended_ms = Some(end);
                blocked = true;
            }
            None => blocked = true,
        }
    }
    if blocked {
        for v in &mut observed.containers {
            v.current.reason = "PodInitializing";
        }
        events.sort_by_key(|e| e.first_ms);
        observed.events = events;
        return observed;
    }

    // Containers, all at once.
    let mut any_running = false;
    let mut all_succeeded = true;
    let mut last_end = start;
    for (c, v) in spec.containers.iter().zip(&mut observed.containers) {
        let script = script(&c.command, &c.args);
        let Some(line) = timeline(&script, spec.restart_policy, start, now_ms) else {
            continue;
        };
        container_events(&mut events, &c.name, &line);
        match line.finished() {
            Some((end, code)) => {
                last_end = last_end.max(end);
                all_succeeded &= code == 0;
            }
            None => any_running = true,
        }
        *v = view(line, base(&c.name), false);
    }
    observed.status = if any_running {
        GroupStatus::Running
    } else if all_succeeded {
        GroupStatus::Succeeded
    } else {
        GroupStatus::Failed
    };
    if !any_running {
        observed.ended_ms = Some(last_end);
    }
    events.sort_by_key(|e| e.first_ms);
    observed.events = events;
    observed
}

/// The lines a run printed by `now_ms`, with their times.
pub fn run_output(script: &Script, run: Run, now_ms: i64) -> Vec<(i64, &str)> {
    let until = run.end.map_or(now_ms, |(end, _)| end.min(now_ms));
    script
        .lines
        .iter()
        .map(|(offset, line)| (run.start_ms.saturating_add(*offset), line.as_str()))
        .filter(|(at, _)| *at <= until)
        .collect()
}

impl ContainerGroup {
    /// The group at `now_ms`.
    pub fn observe(&self, timing: InstanceTiming, now_ms: i64) -> Observed {
        observe(
            Placed {
                id: &self.id,
                zone: &self.zone_id,
            },
            &self.spec,
            &self.generation,
            timing,
            now_ms,
        )
    }
}

// ------------------------------------------------------------------------------------------
// Request parsing
// ------------------------------------------------------------------------------------------

/// A container as one request describes it: fields it leaves out are `None`, so an incremental
/// update can tell "unchanged" from "cleared".
#[derive(Debug, Clone, Default)]
struct ContainerPatch {
    /// `Container.N`, for error messages.
    prefix: String,
    name: String,
    image: Option<String>,
    cpu: Option<f64>,
    memory: Option<f64>,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    env: Option<Vec<(String, String)>>,
    ports: Option<Vec<(u16, String)>>,
    image_pull_policy: Option<String>,
}

impl ContainerPatch {
    fn into_spec(self) -> ApiResult<ContainerSpec> {
        let image = self
            .image
            .ok_or_else(|| ApiError::missing(&format!("{}.Image", self.prefix)))?;
        Ok(ContainerSpec {
            name: self.name,
            image,
            cpu: self.cpu.unwrap_or_default(),
            memory: self.memory.unwrap_or_default(),
            command: self.command.unwrap_or_default(),
            args: self.args.unwrap_or_default(),
            env: self.env.unwrap_or_default(),
            ports: self.ports.unwrap_or_default(),
            image_pull_policy: self
                .image_pull_policy
                .unwrap_or_else(|| "IfNotPresent".to_owned()),
        })
    }

    fn apply_to(self, spec: &mut ContainerSpec) {
        if let Some(image) = self.image {
            spec.image = image;
        }
        if let Some(cpu) = self.cpu {
            spec.cpu = cpu;
        }
        if let Some(memory) = self.memory {
            spec.memory = memory;
        }
        if let Some(command) = self.command {
            spec.command = command;
        }
        if let Some(args) = self.args {
            spec.args = args;
        }
        if let Some(env) = self.env {
            spec.env = env;
        }
        if let Some(ports) = self.ports {
            spec.ports = ports;
        }
        if let Some(policy) = self.image_pull_policy {
            spec.image_pull_policy = policy;
        }
    }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// `Container.N.*` (or `InitContainer.N.*`), numbered from 1 without gaps.
fn container_patches(p: &Params, kind: &str) -> ApiResult<Vec<ContainerPatch>> {
    let mut patches = Vec::new();
    for n in 1.. {
        let prefix = format!("{kind}.{n}");
        let field = |f: &str| format!("{prefix}.{f}");
        let name = p.get(&field("Name"));
        let image = p.get(&field("Image"));
        if name.is_none() && image.is_none() {
            break;
        }
        if n > MAX_CONTAINERS {
            return Err(ApiError::invalid(
                kind,
                format_args!("a container group holds at most {MAX_CONTAINERS} containers"),
            ));
        }
        let name = name.ok_or_else(|| ApiError::missing(&field("Name")))?;
        let mut ports = Vec::new();
        for m in 1.. {
            let port_field = field(&format!("Port.{m}.Port"));
            let Some(port) = p.parse::<u32>(&port_field)? else {
                break;
            };
            let port = u16::try_from(port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ApiError::invalid(&port_field, "must be between 1 and 65535"))?;
            let protocol_field = field(&format!("Port.{m}.Protocol"));
            let protocol = p.get(&protocol_field).unwrap_or("TCP").to_ascii_uppercase();
            if !["TCP", "UDP", "SCTP"].contains(&protocol.as_str()) {
                return Err(ApiError::invalid(
                    &protocol_field,
                    "must be TCP, UDP or SCTP",
                ));
            }
            ports.push((port, protocol));
        }
        let resource = |f: &str| -> ApiResult<Option<f64>> {
            let name = field(f);
            match p.parse::<f64>(&name)? {
                Some(v) if !(v.is_finite() && v >= 0.0) => {
                    Err(ApiError::invalid(&name, "must be a non-negative number"))
                }
                v => Ok(v),
            }
        };
        let cpu = resource("Cpu")?;
        let memory = resource("Memory")?;
        let pull_field = field("ImagePullPolicy");
        let image_pull_policy = p.get(&pull_field).map(str::to_owned);
        if let Some(policy) = &image_pull_policy
            && !["Always", "IfNotPresent", "Never"].contains(&policy.as_str())
        {
            return Err(ApiError::invalid(
                &pull_field,
                format_args!("\"{policy}\" is not one of Always, IfNotPresent, Never"),
            ));
        }
        let strings = |f: &str| -> Option<Vec<String>> {
            non_empty(p.list(&field(f)).into_iter().map(str::to_owned).collect())
        };
        patches.push(ContainerPatch {
            name: name.to_owned(),
            image: image.map(str::to_owned),
            cpu,
            memory,
            command: strings("Command"),
            args: strings("Arg"),
            env: non_empty(p.tags(&field("EnvironmentVar"))),
            ports: non_empty(ports),
            image_pull_policy,
            prefix,
        });
    }
    Ok(patches)
}

/// Kubernetes' DNS label: 1–63 lower-case letters, digits and `-`, starting and ending with an
/// alphanumeric character.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// ECI's group names: 2–128 characters, otherwise as DNS labels.
fn check_group_name(name: &str) -> ApiResult<()> {
    let ok = (2..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "ContainerGroupName",
            format_args!(
                "\"{name}\" must be 2 to 128 lower-case letters, digits and hyphens, not starting or ending with a hyphen"
            ),
        ))
    }
}

/// Checks a group's containers together: count, names, images.
fn check_containers(spec: &Spec) -> ApiResult<()> {
    if spec.containers.is_empty() {
        return Err(ApiError::missing("Container.1.Name"));
    }
    let total = spec.containers.len() + spec.init_containers.len();
    if total > MAX_CONTAINERS {
        return Err(ApiError::invalid(
            "Container",
            format_args!(
                "{total} containers and init containers; a container group holds at most {MAX_CONTAINERS}"
            ),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    let all = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("Container.{}", i + 1), c))
        .chain(
            spec.init_containers
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("InitContainer.{}", i + 1), c)),
        );
    for (prefix, c) in all {
        let param = format!("{prefix}.Name");
        if !is_dns_label(&c.name) {
            return Err(ApiError::invalid(
                &param,
                format_args!(
                    "\"{}\" must be 1 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit",
                    c.name
                ),
            ));
        }
        if seen.contains(&c.name.as_str()) {
            return Err(ApiError::invalid(
                &param,
                format_args!(
                    "the name \"{}\" is used by another container of the group",
                    c.name
                ),
            ));
        }
        seen.push(&c.name);
        if c.image.trim().is_empty() {
            return Err(ApiError::missing(&format!("{prefix}.Image")));
        }
    }
    Ok(())
}

/// What a spec's containers ask for: the sum of the containers, or the largest init container
/// when that is more (init containers run alone), as Kubernetes computes a pod's requests.
fn requested(spec: &Spec) -> (f64, f64) {
    let sum = |f: fn(&ContainerSpec) -> f64| spec.containers.iter().map(f).sum::<f64>();
    let max = |f: fn(&ContainerSpec) -> f64| spec.init_containers.iter().map(f).fold(0.0, f64::max);
    (
        sum(|c| c.cpu).max(max(|c| c.cpu)),
        sum(|c| c.memory).max(max(|c| c.memory)),
    )
}

/// The group's size: its instance type's, its `Cpu`/`Memory`, or what its containers ask for.
/// Rules: at most 64 vCPU; between 1 and 8 GiB per vCPU; containers fit in the group.
fn size(
    p: &Params,
    spec: &Spec,
    current: Option<(f64, f64)>,
) -> ApiResult<(f64, f64, Option<String>)> {
    let (want_cpu, want_memory) = requested(spec);
    if let Some(type_id) = p.get("InstanceType") {
        let t = catalog::instance_type(type_id).ok_or_else(|| {
            ApiError::invalid(
                "InstanceType",
                format_args!(
                    "{type_id} does not exist; DescribeInstanceTypes lists the types on sale"
                ),
            )
        })?;
        let (cpu, memory) = (f64::from(t.cpu), t.memory_gib);
        if want_cpu > cpu || want_memory > memory {
            return Err(ApiError::invalid(
                "InstanceType",
                format_args!(
                    "the containers ask for {want_cpu} vCPU and {want_memory} GiB, more than {type_id} has ({cpu} vCPU, {memory} GiB)"
                ),
            ));
        }
        return Ok((cpu, memory, Some(type_id.to_owned())));
    }
    let (cpu, memory) = match (p.parse::<f64>("Cpu")?, p.parse::<f64>("Memory")?) {
        (Some(cpu), Some(memory)) => (cpu, memory),
        (Some(_), None) => return Err(ApiError::missing("Memory")),
        (None, Some(_)) => return Err(ApiError::missing("Cpu")),
        (None, None) => match current {
            Some(size) if want_cpu <= size.0 && want_memory <= size.1 => size,
            _ => {
                let cpu = if want_cpu > 0.0 {
                    want_cpu
                } else {
                    DEFAULT_CPU
                };
                let memory = if want_memory > 0.0 {
                    want_memory
                } else {
                    cpu * 2.0
                };
                (cpu, memory)
            }
        },
    };
    if !(cpu.is_finite() && cpu > 0.0 && cpu <= MAX_VCPU) {
        return Err(ApiError::invalid(
            "Cpu",
            format_args!(
                "{cpu} vCPU: a container group has more than 0 and at most {MAX_VCPU} vCPU"
            ),
        ));
    }
    if !(memory.is_finite() && memory >= cpu * MIN_GIB_PER_VCPU && memory <= cpu * MAX_GIB_PER_VCPU)
    {
        return Err(ApiError::invalid(
            "Memory",
            format_args!(
                "{memory} GiB for {cpu} vCPU: memory must be {MIN_GIB_PER_VCPU} to {MAX_GIB_PER_VCPU} GiB per vCPU"
            ),
        ));
    }
    if want_cpu > cpu || want_memory > memory {
        return Err(ApiError::invalid(
            if want_cpu > cpu { "Cpu" } else { "Memory" },
            format_args!(
                "the containers ask for {want_cpu} vCPU and {want_memory} GiB, more than the group's {cpu} vCPU and {memory} GiB"
            ),
        ));
    }
    Ok((cpu, memory, None))
}

fn tags_param(p: &Params) -> ApiResult<Vec<(String, String)>> {
    let tags = p.tags("Tag");
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            "Tag",
            format_args!("at most {MAX_TAGS} tags per container group"),
        ));
    }
    Ok(tags)
}

fn group_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "InvalidContainerGroupId.NotFound",
        format_args!("container group {id}"),
    )
}

/// The group named by `ContainerGroupId`, in `RegionId` when one is given.
fn group_param<'w>(world: &'w World, p: &Params) -> ApiResult<&'w ContainerGroup> {
    let id = p.required("ContainerGroupId")?;
    let region = p.get("RegionId").map(|_| region_param(p)).transpose()?;
    world
        .container_groups
        .groups
        .get(id)
        .filter(|g| region.is_none_or(|r| g.region_id == r.id))
        .ok_or_else(|| group_not_found(id))
}

/// The zone, vSwitch and VPC a new group goes to.
fn placement(world: &World, p: &Params, region: &Region) -> ApiResult<(String, String, String)> {
    let zone = p.get("ZoneId");
    if let Some(zone) = zone {
        catalog::check_zone(region, "ZoneId", zone)?;
    }
    let vswitch = match p.get("VSwitchId") {
        Some(v) => v.to_owned(),
        // Without a vSwitch, the zone's default one (every region has a default VPC).
        None => crate::vpc::default_vswitch_id(
            &zone
                .map(str::to_owned)
                .or_else(|| region.zones().next())
                .unwrap_or_default(),
        ),
    };
    let placed = world.network.placement(region, &vswitch)?;
    if let Some(zone) = zone
        && zone != placed.zone_id
    {
        return Err(ApiError::invalid(
            "ZoneId",
            format_args!(
                "vSwitch {vswitch} is in zone {}, not {zone}",
                placed.zone_id
            ),
        ));
    }
    Ok((placed.zone_id, vswitch, placed.vpc_id))
}

// ------------------------------------------------------------------------------------------
// Actions
// ------------------------------------------------------------------------------------------

fn create_container_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let name = p.required("ContainerGroupName")?;
    check_group_name(name)?;
    let containers = container_patches(p, "Container")?
        .into_iter()
        .map(ContainerPatch::into_spec)
        .collect::<ApiResult<Vec<_>>>()?;
    let init_containers = container_patches(p, "InitContainer")?
        .into_iter()
        .map(ContainerPatch::into_spec)
        .collect::<ApiResult<Vec<_>>>()?;
    let restart_policy = p
        .get("RestartPolicy")
        .map(|v| RestartPolicy::parse("RestartPolicy", v))
        .transpose()?
        .unwrap_or_default();
    let spec = Spec {
        containers,
        init_containers,
        restart_policy,
    };
    check_containers(&spec)?;
    let (cpu, memory, instance_type) = size(p, &spec, None)?;
    let tags = tags_param(p)?;
    let spot_strategy = p.get("SpotStrategy").unwrap_or("NoSpot");
    if !["NoSpot", "SpotAsPriceGo", "SpotWithPriceLimit"].contains(&spot_strategy) {
        return Err(ApiError::invalid(
            "SpotStrategy",
            "must be NoSpot, SpotAsPriceGo or SpotWithPriceLimit",
        ));
    }
    let (zone_id, vswitch_id, vpc_id) = placement(world, p, region)?;
    let id = new_id("eci", region);
    let group = ContainerGroup {
        id: id.clone(),
        name: name.to_owned(),
        region_id: region.id.to_owned(),
        zone_id,
        vpc_id,
        vswitch_id,
        security_group_id: p.get("SecurityGroupId").unwrap_or_default().to_owned(),
        instance_type: instance_type.unwrap_or_default(),
        spot_strategy: spot_strategy.to_owned(),
        intranet_ip: world.next_private_ip(),
        cpu,
        memory,
        tags,
        created_ms: call.now_ms,
        spec,
        generation: Generation {
            started_ms: call.now_ms,
            ..Generation::default()
        },
        past_events: Vec::new(),
    };
    world.container_groups.groups.insert(id.clone(), group);
    Ok(json!({ "ContainerGroupId": id }))
}

fn time_or_empty(ms: Option<i64>) -> String {
    ms.map(format_seconds).unwrap_or_default()
}

fn state_json(state: Option<&ContainerState>) -> Value {
    let Some(s) = state else {
        return json!({});
    };
    let mut value = json!({
        "State": match s.kind {
            StateKind::Waiting => "Waiting",
            StateKind::Running => "Running",
            StateKind::Terminated => "Terminated",
        },
        "Reason": s.reason,
        "DetailStatus": s.reason,
        "StartTime": time_or_empty(s.start_ms),
        "FinishTime": time_or_empty(s.finish_ms),
    });
    if let Some(code) = s.exit_code {
        value["ExitCode"] = json!(code);
    }
    value
}

fn container_json(c: &ContainerSpec, v: &ContainerView, command_key: &str) -> Value {
    json!({
        "Name": c.name,
        "Image": c.image,
        "ImagePullPolicy": c.image_pull_policy,
        "Cpu": c.cpu,
        "Memory": c.memory,
        "Gpu": 0,
        command_key: c.command,
        "Args": c.args,
        "EnvironmentVars": c.env.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
        "Ports": c.ports.iter().map(|(port, protocol)| json!({"Port": port, "Protocol": protocol})).collect::<Vec<_>>(),
        "VolumeMounts": [],
        "WorkingDir": "",
        "Ready": v.ready,
        "RestartCount": v.restart_count,
        "CurrentState": state_json(Some(&v.current)),
        "PreviousState": state_json(v.previous.as_ref()),
        "Stdin": false,
        "StdinOnce": false,
        "Tty": false,
    })
}

fn event_json(e: &Event, group_id: &str) -> Value {
    json!({
        "Name": group_id,
        "Reason": e.reason,
        "Message": e.message,
        "Type": e.kind,
        "Count": e.count,
        "FirstTimestamp": format_seconds(e.first_ms),
        "LastTimestamp": format_seconds(e.last_ms),
    })
}

fn group_json(g: &ContainerGroup, o: &Observed, with_events: bool) -> Value {
    let events: Vec<Value> = if with_events {
        g.past_events
            .iter()
            .chain(&o.events)
            .map(|e| event_json(e, &g.id))
            .collect()
    } else {
        Vec::new()
    };
    let ended = |status| time_or_empty(o.ended_ms.filter(|_| o.status == status));
    json!({
        "ContainerGroupId": g.id,
        "ContainerGroupName": g.name,
        "RegionId": g.region_id,
        "ZoneId": g.zone_id,
        "VpcId": g.vpc_id,
        "VSwitchId": g.vswitch_id,
        "SecurityGroupId": g.security_group_id,
        "Status": o.status.as_str(),
        "Cpu": g.cpu,
        "Memory": g.memory,
        "InstanceType": g.instance_type,
        "IntranetIp": g.intranet_ip,
        "InternetIp": "",
        "Ipv6Address": "",
        "EniInstanceId": format!("eni-{}", g.id.trim_start_matches("eci-")),
        "RestartPolicy": g.spec.restart_policy.as_str(),
        "SpotStrategy": g.spot_strategy,
        "SpotPriceLimit": 0.0,
        "Discount": 0,
        "EphemeralStorage": 0,
        "ComputeCategory": "",
        "ResourceGroupId": "",
        "RamRoleName": "",
        "CreationTime": format_seconds(g.created_ms),
        "SucceededTime": ended(GroupStatus::Succeeded),
        "FailedTime": ended(GroupStatus::Failed),
        "ExpiredTime": "",
        "Tags": g.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
        "Events": events,
        "Containers": g.spec.containers.iter().zip(&o.containers).map(|(c, v)| container_json(c, v, "Commands")).collect::<Vec<_>>(),
        "InitContainers": g.spec.init_containers.iter().zip(&o.init_containers).map(|(c, v)| container_json(c, v, "Command")).collect::<Vec<_>>(),
        "Volumes": [],
        "HostAliases": [],
        "DnsConfig": {"NameServers": [], "Options": [], "Searches": []},
    })
}

/// A group's place in listings, and the `NextToken` that resumes after it: stable when groups
/// come and go between pages, unlike an offset.
fn sort_key(g: &ContainerGroup) -> (i64, &str) {
    (g.created_ms, g.id.as_str())
}

fn token_of(g: &ContainerGroup) -> String {
    format!("{}:{}", g.created_ms, g.id)
}

fn parse_token(token: &str) -> ApiResult<(i64, String)> {
    token
        .split_once(':')
        .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
        .ok_or_else(|| {
            ApiError::invalid(
                "NextToken",
                "pass back the NextToken of the previous page unchanged",
            )
        })
}

fn describe_container_groups(world: &World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let ids = p.list_or_json("ContainerGroupIds")?;
    if ids.len() > MAX_PAGE {
        return Err(ApiError::invalid(
            "ContainerGroupIds",
            format_args!("at most {MAX_PAGE} ids per request, got {}", ids.len()),
        ));
    }
    let limit = p.parse::<usize>("Limit")?.unwrap_or(MAX_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(
            "Limit",
            format_args!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let after = p.get("NextToken").map(parse_token).transpose()?;
    let name = p.get("ContainerGroupName");
    let status = p.get("Status");
    let zone = p.get("ZoneId");
    let vswitch = p.get("VSwitchId");
    let security_group = p.get("SecurityGroupId");
    let tags = tags_param(p)?;
    let with_events = p.bool("WithEvent")?.unwrap_or(true);
    let timing = call.settings.timing;
    let mut matching: Vec<(&ContainerGroup, Observed)> = world
        .container_groups
        .groups
        .values()
        .filter(|g| g.region_id == region.id)
        .filter(|g| ids.is_empty() || ids.contains(&g.id))
        .filter(|g| name.is_none_or(|n| g.name == n))
        .filter(|g| zone.is_none_or(|z| g.zone_id == z))
        .filter(|g| vswitch.is_none_or(|v| g.vswitch_id == v))
        .filter(|g| security_group.is_none_or(|s| g.security_group_id == s))
        .filter(|g| tags.iter().all(|t| g.tags.contains(t)))
        .map(|g| (g, g.observe(timing, call.now_ms)))
        .filter(|(_, o)| status.is_none_or(|s| o.status.as_str() == s))
        .collect();
    matching.sort_by(|a, b| sort_key(a.0).cmp(&sort_key(b.0)));
    let total = matching.len();
    let start = match &after {
        None => 0,
        Some((ms, id)) => matching.partition_point(|(g, _)| sort_key(g) <= (*ms, id.as_str())),
    };
    let end = start.saturating_add(limit).min(total);
    let next = if end < total {
        token_of(matching[end - 1].0)
    } else {
        String::new()
    };
    let items: Vec<Value> = matching[start..end]
        .iter()
        .map(|(g, o)| group_json(g, o, with_events))
        .collect();
    Ok(json!({ "ContainerGroups": items, "TotalCount": total, "NextToken": next }))
}

fn delete_container_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = group_param(world, call.params)?.id.clone();
    world.container_groups.groups.remove(&id);
    Ok(json!({}))
}

fn describe_container_log(world: &World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let group = group_param(world, p)?;
    let name = p.required("ContainerName")?;
    let tail = p.parse::<usize>("Tail")?;
    let limit_bytes = p.parse::<usize>("LimitBytes")?;
    let since_seconds = p.parse::<u32>("SinceSeconds")?;
    let timestamps = p.bool("Timestamps")?.unwrap_or(false);
    let last_time = p.bool("LastTime")?.unwrap_or(false);
    let observed = group.observe(call.settings.timing, call.now_ms);
    let (spec, view) = group
        .spec
        .containers
        .iter()
        .zip(&observed.containers)
        .chain(
            group
                .spec
                .init_containers
                .iter()
                .zip(&observed.init_containers),
        )
        .find(|(c, _)| c.name == name)
        .ok_or_else(|| {
            ApiError::not_found(
                "InvalidContainerName.NotFound",
                format_args!("container {name} in container group {}", group.id),
            )
        })?;
    let run = view.timeline.as_ref().and_then(|t| {
        if last_time {
            t.previous
        } else {
            Some(t.current)
        }
    });
    let script = script(&spec.command, &spec.args);
    let mut lines = run
        .map(|run| run_output(&script, run, call.now_ms))
        .unwrap_or_default();
    if let Some(since) = since_seconds {
        let from = call.now_ms.saturating_sub(i64::from(since) * 1000);
        lines.retain(|(at, _)| *at >= from);
    }
    if let Some(tail) = tail {
        let skip = lines.len().saturating_sub(tail);
        lines.drain(..skip);
    }
    let mut content = String::new();
    for (at, line) in lines {
        if timestamps {
            let seconds = format_seconds(at);
            let stamp = seconds.trim_end_matches('Z');
            content.push_str(&format!("{stamp}.{:03}000000Z ", at.rem_euclid(1000)));
        }
        content.push_str(line);
        content.push('\n');
    }
    if let Some(limit) = limit_bytes {
        // Like the kubelet: the first `LimitBytes` bytes, cut at a character boundary.
        let mut cut = limit.min(content.len());
        while !content.is_char_boundary(cut) {
            cut -= 1;
        }
        content.truncate(cut);
    }
    Ok(json!({ "ContainerName": name, "Content": content }))
}

/// `RenewUpdate` (the given containers replace the group's) or `IncrementalUpdate` (they are
/// merged by name into the group's).
fn merge_containers(
    current: &[ContainerSpec],
    patches: Vec<ContainerPatch>,
    incremental: bool,
) -> ApiResult<Vec<ContainerSpec>> {
    if patches.is_empty() {
        return Ok(current.to_vec());
    }
    if !incremental {
        return patches.into_iter().map(ContainerPatch::into_spec).collect();
    }
    let mut merged = current.to_vec();
    for patch in patches {
        match merged.iter_mut().find(|c| c.name == patch.name) {
            Some(existing) => patch.apply_to(existing),
            None => merged.push(patch.into_spec()?),
        }
    }
    Ok(merged)
}

fn update_container_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let group = group_param(world, p)?.clone();
    let observed = group.observe(call.settings.timing, call.now_ms);
    if observed.status == GroupStatus::Updating {
        return Err(ApiError::new(
            400,
            "IncorrectStatus",
            format!(
                "Container group {} is still applying an earlier update; try again once it is Running.",
                group.id
            ),
        ));
    }
    let incremental = match p.get("UpdateType").unwrap_or("RenewUpdate") {
        "RenewUpdate" => false,
        "IncrementalUpdate" => true,
        other => {
            return Err(ApiError::invalid(
                "UpdateType",
                format_args!("\"{other}\" is not one of RenewUpdate, IncrementalUpdate"),
            ));
        }
    };
    let spec = Spec {
        containers: merge_containers(
            &group.spec.containers,
            container_patches(p, "Container")?,
            incremental,
        )?,
        init_containers: merge_containers(
            &group.spec.init_containers,
            container_patches(p, "InitContainer")?,
            incremental,
        )?,
        restart_policy: p
            .get("RestartPolicy")
            .map(|v| RestartPolicy::parse("RestartPolicy", v))
            .transpose()?
            .unwrap_or(group.spec.restart_policy),
    };
    check_containers(&spec)?;
    let current_size = if group.instance_type.is_empty() {
        Some((group.cpu, group.memory))
    } else {
        None
    };
    let (cpu, memory, instance_type) = if p.get("InstanceType").is_none()
        && !group.instance_type.is_empty()
    {
        // Keep the instance type; check the containers still fit it.
        let (want_cpu, want_memory) = requested(&spec);
        if want_cpu > group.cpu || want_memory > group.memory {
            return Err(ApiError::invalid(
                "Container",
                format_args!(
                    "the containers ask for {want_cpu} vCPU and {want_memory} GiB, more than {} has",
                    group.instance_type
                ),
            ));
        }
        (group.cpu, group.memory, Some(group.instance_type.clone()))
    } else {
        size(p, &spec, current_size)?
    };
    let tags = tags_param(p)?;
    let restart = spec != group.spec || cpu != group.cpu || memory != group.memory;

    let g = world
        .container_groups
        .groups
        .get_mut(&group.id)
        .ok_or_else(|| group_not_found(&group.id))?;
    if !tags.is_empty() {
        g.tags = tags;
    }
    if restart {
        // The running containers are stopped; their restarts so far carry over, plus one for
        // the restart the update causes.
        let mut restart_base = BTreeMap::new();
        let mut killing = Vec::new();
        let old = group
            .spec
            .containers
            .iter()
            .zip(&observed.containers)
            .chain(
                group
                    .spec
                    .init_containers
                    .iter()
                    .zip(&observed.init_containers),
            );
        for (c, v) in old {
            let started = v.timeline.is_some();
            restart_base.insert(c.name.clone(), v.restart_count + u32::from(started));
            if v.current.kind == StateKind::Running {
                killing.push(Event::once(
                    "Killing",
                    "Normal",
                    format!("Stopping container {}", c.name),
                    call.now_ms,
                ));
            }
        }
        let mut past = group.past_events.clone();
        past.extend(observed.events);
        past.extend(killing);
        let excess = past.len().saturating_sub(MAX_PAST_EVENTS);
        past.drain(..excess);
        g.past_events = past;
        g.spec = spec;
        g.cpu = cpu;
        g.memory = memory;
        g.instance_type = instance_type.unwrap_or_default();
        g.generation = Generation {
            started_ms: call.now_ms,
            updated: true,
            restart_base,
        };
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn sh(text: &str) -> Script {
        script(&words(&["sh", "-c", text]), &[])
    }

    fn container(name: &str, command: &[&str]) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: "busybox:1.36".into(),
            command: words(command),
            ..ContainerSpec::default()
        }
    }

    fn spec(containers: Vec<ContainerSpec>, policy: RestartPolicy) -> Spec {
        Spec {
            containers,
            init_containers: Vec::new(),
            restart_policy: policy,
        }
    }

    const TIMING: InstanceTiming = InstanceTiming {
        pending_ms: 1_000,
        starting_ms: 2_000,
    };
    const PLACED: Placed<'static> = Placed {
        id: "eci-1",
        zone: "cn-hangzhou-k",
    };

    fn at(spec: &Spec, now_ms: i64) -> Observed {
        observe(PLACED, spec, &Generation::default(), TIMING, now_ms)
    }

    #[test]
    fn absurdly_long_sleeps_saturate_instead_of_overflowing() {
        let s = sh("sleep 1e300; sleep 1e300; exit 0");
        assert_eq!(s.end, Some((i64::MAX, 0)));
        let line = timeline(
            &s,
            RestartPolicy::Always,
            1_700_000_000_000,
            1_700_000_001_000,
        );
        assert_eq!(line.map(|l| l.current.end), Some(None), "still sleeping");
    }

    #[test]
    fn never_restarting_containers_run_once() {
        let line = timeline(&sh("sleep 5; exit 2"), RestartPolicy::Never, 100, 10_000).unwrap();
        assert_eq!(line.runs, 1);
        assert_eq!(line.finished(), Some((5_100, 2)));
        assert!(timeline(&sh("true"), RestartPolicy::Never, 100, 99).is_none());
    }

    #[test]
    fn restarts_back_off_10s_doubling_to_5_minutes() {
        let s = sh("exit 1");
        let policy = RestartPolicy::Always;
        // Exits at once; restarts at 10 s, 30 s, 70 s, 150 s, 310 s, 610 s, then every 300 s.
        let runs = |now| timeline(&s, policy, 0, now).unwrap().runs;
        assert_eq!(runs(9_999), 1);
        assert_eq!(runs(10_000), 2);
        assert_eq!(runs(29_999), 2);
        assert_eq!(runs(30_000), 3);
        assert_eq!(runs(630_000), 7);
        assert_eq!(runs(930_000), 8);
        let waiting = timeline(&s, policy, 0, 20_000).unwrap();
        assert_eq!(waiting.next_restart_ms, Some(30_000));
        assert_eq!(
            waiting.finished(),
            None,
            "waiting to restart is not finished"
        );
    }

    #[test]
    fn long_crash_loops_jump_to_the_same_answer_as_stepping() {
        let s = sh("sleep 1; exit 1");
        let day = 86_400_000;
        let line = timeline(&s, RestartPolicy::OnFailure, 0, day).unwrap();
        // Step by hand from the first capped restart to check the shortcut.
        let mut start = 0i64;
        let mut runs = 0u32;
        let mut delay = BACKOFF_BASE_MS;
        while start <= day {
            runs += 1;
            let next = start + 1_000 + delay;
            delay = (delay * 2).min(BACKOFF_CAP_MS);
            if next > day {
                break;
            }
            start = next;
        }
        assert_eq!(line.runs, runs);
        assert_eq!(
            line.backoffs.map(|b| b.0),
            Some(line.runs - u32::from(line.current.end.is_none()))
        );
    }

    #[test]
    fn on_failure_stops_after_a_success() {
        let line = timeline(&sh("exit 0"), RestartPolicy::OnFailure, 0, 60_000).unwrap();
        assert_eq!((line.runs, line.finished()), (1, Some((0, 0))));
    }

    #[test]
    fn a_group_schedules_pulls_then_runs() {
        let spec = spec(vec![container("web", &[])], RestartPolicy::Always);
        assert_eq!(at(&spec, 0).status, GroupStatus::Scheduling);
        let pending = at(&spec, 1_000);
        assert_eq!(pending.status, GroupStatus::Pending);
        assert_eq!(pending.containers[0].current.reason, "ContainerCreating");
        let running = at(&spec, 3_000);
        assert_eq!(running.status, GroupStatus::Running);
        assert!(running.containers[0].ready);
        let reasons: Vec<&str> = running.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
        );
    }

    #[test]
    fn a_job_succeeds_when_every_container_exits_zero() {
        let spec = spec(
            vec![
                container("a", &["sleep", "1"]),
                container("b", &["sleep", "4"]),
            ],
            RestartPolicy::Never,
        );
        assert_eq!(at(&spec, 5_000).status, GroupStatus::Running);
        let done = at(&spec, 7_000);
        assert_eq!(done.status, GroupStatus::Succeeded);
        assert_eq!(done.ended_ms, Some(7_000));
        assert_eq!(done.containers[0].current.reason, "Completed");
        assert!(!done.containers[0].ready);
    }

    #[test]
    fn any_non_zero_exit_fails_a_never_restarting_group() {
        let spec = spec(
            vec![
                container("a", &["sh", "-c", "exit 3"]),
                container("b", &["true"]),
            ],
            RestartPolicy::Never,
        );
        let o = at(&spec, 3_000);
        assert_eq!(o.status, GroupStatus::Failed);
        assert_eq!(o.containers[0].current.exit_code, Some(3));
        assert_eq!(o.containers[0].current.kind, StateKind::Terminated);
    }

    #[test]
    fn always_restarts_count_and_show_the_previous_run() {
        let spec = spec(
            vec![container("a", &["sh", "-c", "echo x; sleep 5; exit 1"])],
            RestartPolicy::Always,
        );
        // Pulled at 3 s, exits at 8 s, restarts at 18 s, exits at 23 s, restarts at 43 s.
        let o = at(&spec, 20_000);
        assert_eq!(o.status, GroupStatus::Running);
        let c = &o.containers[0];
        assert_eq!((c.current.kind, c.restart_count), (StateKind::Running, 1));
        assert_eq!(c.previous.as_ref().and_then(|p| p.exit_code), Some(1));
        let waiting = at(&spec, 25_000);
        assert_eq!(
            waiting.status,
            GroupStatus::Running,
            "a restarting container keeps the group Running"
        );
        let c = &waiting.containers[0];
        assert_eq!(c.current.reason, "CrashLoopBackOff");
        assert_eq!(c.previous.as_ref().and_then(|p| p.finish_ms), Some(23_000));
        assert!(
            waiting
                .events
                .iter()
                .any(|e| e.reason == "BackOff" && e.count == 2)
        );
        assert!(
            waiting
                .events
                .iter()
                .any(|e| e.reason == "Started" && e.count == 2)
        );
    }

    #[test]
    fn a_missing_image_fails_the_group_with_err_image_pull() {
        let mut c = container("a", &[]);
        c.image = "registry.example.com/doesnotexist:1".into();
        let spec = spec(vec![c, container("b", &[])], RestartPolicy::Always);
        assert_eq!(at(&spec, 2_999).status, GroupStatus::Pending);
        let o = at(&spec, 3_000);
        assert_eq!(o.status, GroupStatus::Failed);
        assert_eq!(o.containers[0].current.reason, "ErrImagePull");
        assert_eq!(o.containers[1].current.reason, "ContainerCreating");
        assert!(
            o.events
                .iter()
                .any(|e| e.reason == "Failed" && e.kind == "Warning")
        );
    }

    #[test]
    fn init_containers_run_first_and_a_failing_one_blocks_the_rest() {
        let mut s = spec(vec![container("app", &[])], RestartPolicy::Never);
        s.init_containers = vec![container("setup", &["sleep", "2"])];
        let o = at(&s, 4_000);
        assert_eq!(o.status, GroupStatus::Pending);
        assert_eq!(o.containers[0].current.reason, "PodInitializing");
        let o = at(&s, 5_000);
        assert_eq!(o.status, GroupStatus::Running);
        assert!(o.init_containers[0].ready);

        s.init_containers = vec![container("setup", &["false"])];
        assert_eq!(at(&s, 4_000).status, GroupStatus::Failed);
        s.restart_policy = RestartPolicy::Always;
        let o = at(&s, 60_000);
        assert_eq!(
            o.status,
            GroupStatus::Pending,
            "a failing init container loops"
        );
        assert!(o.init_containers[0].restart_count > 0);
    }

    #[test]
    fn an_updated_generation_shows_updating_and_keeps_restart_counts() {
        let s = spec(vec![container("a", &[])], RestartPolicy::Always);
        let generation = Generation {
            started_ms: 10_000,
            updated: true,
            restart_base: [("a".to_owned(), 2)].into(),
        };
        let o = observe(PLACED, &s, &generation, TIMING, 11_000);
        assert_eq!(o.status, GroupStatus::Updating);
        assert!(o.events.iter().all(|e| e.reason != "Scheduled"));
        let o = observe(PLACED, &s, &generation, TIMING, 13_000);
        assert_eq!(
            (o.status, o.containers[0].restart_count),
            (GroupStatus::Running, 2)
        );
    }

    #[test]
    fn logs_show_what_a_run_printed_so_far() {
        let s = sh("echo one; sleep 2; echo two; sleep 100");
        let run = Run {
            start_ms: 1_000,
            end: None,
        };
        assert_eq!(run_output(&s, run, 2_000), vec![(1_000, "one")]);
        assert_eq!(run_output(&s, run, 3_000).len(), 2);
    }

    #[test]
    fn names_follow_the_dns_label_rules() {
        assert!(is_dns_label("web-1"));
        assert!(!is_dns_label("Web"));
        assert!(!is_dns_label("-web"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(check_group_name("a").is_err());
        assert!(check_group_name("job-42").is_ok());
    }

    #[test]
    fn missing_images_are_recognised_by_name() {
        assert!(image_is_missing("nginx:doesnotexist"));
        assert!(image_is_missing("registry/NotFound/app"));
        assert!(!image_is_missing("nginx:1.25"));
    }
}
