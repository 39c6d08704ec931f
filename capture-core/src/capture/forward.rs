//! Forward capture: which forwards are captured, and the guards that write them.
//!
//! [`ForwardPolicy::for_epoch`] applies SPEC §3 to one epoch:
//!
//! - forwards are captured when instrumentation is on, `what` is set and the epoch's
//!   0-based index is a multiple of `capture_epochs_at_every`;
//! - the parent's tensors are inspected in the first epoch (index 0) only;
//! - children are captured with `parent_and_children`: in the first epoch for the
//!   `lightweight` and `tensor_inspection` modes, in every captured epoch for the
//!   telemetry modes; their tensors are inspected in the first epoch only, in the modes
//!   that inspect; their telemetry is taken in the telemetry modes.
//!
//! Parent rows carry `telemetry_at_end` whenever a per-task telemetry kind is on.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use super::ids::next_sequence;
use super::{Capture, TaskId, WorkflowId, drop_status};
use crate::clock::Stamp;
use crate::record::Status;
use crate::settings::{ChildrenMode, ForwardScope, Settings};
use crate::tensor::{TensorFacts, TensorInspection};
use crate::writer::{
    ForwardKind, ForwardMeta, ForwardRow, InspectedForward, Row, RowExtras, Template,
    next_template_id,
};

/// Most child forwards a parent keeps before handing them to the writer: a model forward
/// has a handful; a loop of many children under one parent still sends in batches.
const CHILD_BATCH: usize = 64;

/// Decides, epoch by epoch, what forward capture does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardPolicy {
    scope: Option<ForwardScope>,
    children_mode: Option<ChildrenMode>,
    every: u32,
    telemetry: bool,
}

/// A first-level child module as its forward rows describe it: its type name (the rows'
/// `activity_id`) and the attributes Flowcept writes under their `used` beside the input
/// tensor and `training` (sizes and options, such as `in_features` or `num_layers`).
///
/// Made once per module before training and passed to [`ForwardGuard::child_module`]:
/// the attributes go to the writer once, and each row names them by id.
#[derive(Debug)]
pub struct ChildModule {
    activity: String,
    attributes: Map<String, Value>,
    /// Unique within the process, so that two modules with the same type name (two
    /// `Linear` layers, say) keep their own attributes. Never 0, the key of a child
    /// opened by name alone.
    key: u64,
}

impl ChildModule {
    /// Describes a child module of type `activity` with these attributes.
    pub fn new(activity: impl Into<String>, attributes: Map<String, Value>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ChildModule {
            activity: activity.into(),
            attributes,
            key: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Returns the module's type name.
    pub fn activity(&self) -> &str {
        &self.activity
    }

    /// Returns the attributes its rows carry under `used`.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }
}

/// The module a forward template describes.
#[derive(Clone, Copy)]
struct ModuleRef<'a> {
    kind: ForwardKind,
    activity: &'a str,
    /// The described child; none for a parent or a child named alone.
    described: Option<&'a ChildModule>,
}

impl ModuleRef<'_> {
    fn key(&self) -> u64 {
        self.described.map_or(0, |module| module.key)
    }
}

/// What to capture of the forwards of one epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardPlan {
    /// Writes a row per model forward.
    pub parent: bool,
    /// Inspects the model's input and output tensors.
    pub parent_tensors: bool,
    /// Writes a row per first-level child forward.
    pub children: bool,
    /// Inspects the children's input and output tensors.
    pub child_tensors: bool,
    /// Takes telemetry at the end of each child forward.
    pub child_telemetry: bool,
}

impl ForwardPlan {
    /// The plan that captures nothing.
    pub const NOTHING: ForwardPlan = ForwardPlan {
        parent: false,
        parent_tensors: false,
        children: false,
        child_tensors: false,
        child_telemetry: false,
    };
}

impl ForwardPolicy {
    pub(super) fn new(settings: &Settings, instrumented: bool) -> Self {
        let torch = &settings.instrumentation.torch;
        ForwardPolicy {
            scope: torch.what.filter(|_| instrumented),
            children_mode: torch.children_mode,
            every: torch.capture_epochs_at_every.max(1),
            telemetry: settings.telemetry_capture.any_per_task(),
        }
    }

    /// Returns the policy that captures no forward.
    pub fn disabled() -> Self {
        ForwardPolicy {
            scope: None,
            children_mode: None,
            every: 1,
            telemetry: false,
        }
    }

    /// Returns the plan for the epoch with this 0-based index.
    pub fn for_epoch(&self, index: usize) -> ForwardPlan {
        let Some(scope) = self.scope else {
            return ForwardPlan::NOTHING;
        };
        if !index.is_multiple_of(self.every as usize) {
            return ForwardPlan::NOTHING;
        }
        let first = index == 0;
        let mode = match scope {
            ForwardScope::ParentOnly => None,
            ForwardScope::ParentAndChildren => self.children_mode,
        };
        let children = mode.is_some_and(|m| first || m.wants_telemetry());
        ForwardPlan {
            parent: true,
            parent_tensors: first,
            children,
            child_tensors: children && first && mode.is_some_and(ChildrenMode::wants_tensors),
            child_telemetry: children
                && self.telemetry
                && mode.is_some_and(ChildrenMode::wants_telemetry),
        }
    }
}

/// An open parent forward. [`ForwardGuard::end`] writes its row; dropped without it,
/// the row is written without outputs (`ERROR` when the thread is panicking).
///
/// The guard may move to another thread (`Send`) but is not shared (`!Sync`): its
/// children open on the thread that holds it, and their rows wait in it, without a
/// lock, until it ends.
#[must_use = "dropping the guard ends the forward at once"]
#[derive(Debug)]
pub struct ForwardGuard {
    state: Option<ForwardState>,
}

#[derive(Debug)]
struct ForwardState {
    capture: Capture,
    /// The number of the task id; the id's text is made only when asked for.
    task: u64,
    task_id: OnceLock<TaskId>,
    template: u64,
    model: WorkflowId,
    parent: Option<TaskId>,
    plan: ForwardPlan,
    is_training: bool,
    started_at: Stamp,
    /// The input's inspection, sent with the row. Boxed: only the first epoch's
    /// forwards have one, and every forward's guard stays small.
    used: Option<Box<TensorInspection>>,
    /// The child forwards, sent with this forward's row (or when [`CHILD_BATCH`] of
    /// them wait): one queue message for a whole model forward. A cell: children are
    /// opened on the parent's thread (the guard is `Send`, not `Sync`).
    children: RefCell<Children>,
}

/// The child forwards of one parent forward, each in the slot it took when it opened;
/// an open child fills its slot when it ends.
#[derive(Debug, Default)]
struct Children {
    slots: Vec<InspectedForward>,
    /// How many slots are still open: the batch is sent only when none is.
    open: usize,
}

impl ForwardState {
    fn task_id(&self) -> &TaskId {
        self.task_id.get_or_init(|| TaskId::of_sequence(self.task))
    }
}

impl ForwardGuard {
    pub(super) fn open(
        capture: &Capture,
        model: &WorkflowId,
        activity: &str,
        parent: Option<&TaskId>,
        plan: &ForwardPlan,
        is_training: bool,
        input: Option<&dyn TensorFacts>,
    ) -> ForwardGuard {
        if !plan.parent || !capture.flags().instrumented || capture.stopped() {
            return ForwardGuard { state: None };
        }
        let started_at = Stamp::now();
        let task = next_sequence();
        let used = inspect(plan.parent_tensors, input).map(Box::new);
        ForwardGuard {
            state: Some(ForwardState {
                capture: capture.clone(),
                task,
                task_id: OnceLock::new(),
                template: forward_template(
                    capture,
                    model,
                    ModuleRef {
                        kind: ForwardKind::Parent,
                        activity,
                        described: None,
                    },
                ),
                model: model.clone(),
                parent: parent.cloned(),
                plan: *plan,
                is_training,
                started_at,
                used,
                children: RefCell::new(Children::default()),
            }),
        }
    }

    /// Returns the forward's task id, when captured.
    pub fn id(&self) -> Option<&TaskId> {
        self.state.as_ref().map(ForwardState::task_id)
    }

    /// Tells whether child forwards are captured under this one.
    pub fn captures_children(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.plan.children)
    }

    /// Opens a child forward (`subtype: child_forward`, `activity_id` the child's type
    /// name) under this one; a no-op guard when children are not captured. The child
    /// borrows its parent: it ends before the parent does. Its row's `used` holds the
    /// input tensor (when inspected) and `training`; [`ForwardGuard::child_module`] adds
    /// the module's attributes.
    pub fn child(&self, activity: &str, input: Option<&dyn TensorFacts>) -> ChildGuard<'_> {
        self.open_child(
            ModuleRef {
                kind: ForwardKind::Child,
                activity,
                described: None,
            },
            input,
        )
    }

    /// Opens a child forward of `module`, as [`ForwardGuard::child`] does, with the
    /// module's attributes under the row's `used`.
    pub fn child_module(
        &self,
        module: &ChildModule,
        input: Option<&dyn TensorFacts>,
    ) -> ChildGuard<'_> {
        self.open_child(
            ModuleRef {
                kind: ForwardKind::Child,
                activity: &module.activity,
                described: Some(module),
            },
            input,
        )
    }

    fn open_child(&self, module: ModuleRef<'_>, input: Option<&dyn TensorFacts>) -> ChildGuard<'_> {
        let Some(parent) = self.state.as_ref().filter(|s| s.plan.children) else {
            return ChildGuard { state: None };
        };
        let started_at = Stamp::now();
        let task = next_sequence();
        // The row is made now, in its slot, and finished when the child ends: the
        // guard stays small, and the input's inspection is moved once.
        let opened = InspectedForward {
            row: ForwardRow {
                template: forward_template(&parent.capture, &parent.model, module),
                task,
                parent_task_id: Some(parent.task_id().clone()),
                is_training: Some(parent.is_training),
                tensors: None,
                status: Status::Running,
                started_at,
                ended_at: started_at,
                extras: None,
            },
            used: inspect(parent.plan.child_tensors, input),
            generated: None,
        };
        let mut children = parent.children.borrow_mut();
        if children.slots.capacity() == 0 {
            // Room for a model's children and itself at once, rather than by doubling.
            children.slots.reserve_exact(8);
        }
        children.slots.push(opened);
        children.open += 1;
        ChildGuard {
            state: Some(ChildState {
                capture: &parent.capture,
                children: &parent.children,
                slot: children.slots.len() - 1,
                task,
                task_id: OnceLock::new(),
                tensors: parent.plan.child_tensors,
                telemetry: parent.plan.child_telemetry,
            }),
        }
    }

    /// Ends the forward; `output` is inspected when the plan inspects parent tensors.
    pub fn end(mut self, output: Option<&dyn TensorFacts>) {
        if let Some(state) = self.state.take() {
            let generated = inspect(state.plan.parent_tensors, output);
            state.emit(Status::Finished, None, generated);
        }
    }
}

impl ForwardState {
    fn emit(self, status: Status, stderr: Option<String>, generated: Option<TensorInspection>) {
        let telemetry_at_end = self.capture.telemetry_snapshot();
        let row = ForwardRow {
            template: self.template,
            task: self.task,
            parent_task_id: self.parent,
            is_training: Some(self.is_training),
            tensors: None,
            status,
            started_at: self.started_at,
            ended_at: Stamp::now(),
            extras: RowExtras::of(stderr, telemetry_at_end),
        };
        let mut batch = self.children.into_inner().slots;
        if batch.is_empty() && self.used.is_none() && generated.is_none() {
            // The usual forward: a plain row, and nothing allocated.
            self.capture.emit(Row::Forward(row));
        } else {
            batch.push(InspectedForward {
                row,
                used: self.used.map(|used| *used),
                generated,
            });
            self.capture.emit_forwards(batch);
        }
    }
}

impl Drop for ForwardGuard {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let (status, stderr) = drop_status();
            state.emit(status, stderr, None);
        }
    }
}

/// An open child forward. [`ChildGuard::end`] writes its row; dropped without it, the
/// row is written without outputs (`ERROR` when the thread is panicking).
#[must_use = "dropping the guard ends the child forward at once"]
#[derive(Debug)]
pub struct ChildGuard<'a> {
    state: Option<ChildState<'a>>,
}

#[derive(Debug)]
struct ChildState<'a> {
    /// The parent's capture, borrowed: a child costs no reference count.
    capture: &'a Capture,
    /// The parent's children, among which this one's row waits in `slot`.
    children: &'a RefCell<Children>,
    slot: usize,
    /// The number of the task id; the id's text is made only when asked for.
    task: u64,
    task_id: OnceLock<TaskId>,
    tensors: bool,
    telemetry: bool,
}

impl ChildGuard<'_> {
    /// Returns the child forward's task id, when captured.
    pub fn id(&self) -> Option<&TaskId> {
        self.state
            .as_ref()
            .map(|s| s.task_id.get_or_init(|| TaskId::of_sequence(s.task)))
    }

    /// Ends the child forward; `output` is inspected when the plan inspects children.
    pub fn end(mut self, output: Option<&dyn TensorFacts>) {
        if let Some(state) = self.state.take() {
            let generated = inspect(state.tensors, output);
            state.emit(Status::Finished, None, generated);
        }
    }
}

impl ChildState<'_> {
    fn emit(self, status: Status, stderr: Option<String>, generated: Option<TensorInspection>) {
        let telemetry_at_end = if self.telemetry {
            self.capture.telemetry_snapshot()
        } else {
            None
        };
        let ended_at = Stamp::now();
        let mut children = self.children.borrow_mut();
        if let Some(slot) = children.slots.get_mut(self.slot) {
            slot.row.status = status;
            slot.row.ended_at = ended_at;
            slot.row.extras = RowExtras::of(stderr, telemetry_at_end);
            slot.generated = generated;
        }
        children.open -= 1;
        if children.open == 0 && children.slots.len() >= CHILD_BATCH {
            // More children are coming: the next batch will be full too.
            let full = std::mem::replace(&mut children.slots, Vec::with_capacity(CHILD_BATCH));
            drop(children);
            self.capture.emit_forwards(full);
        }
    }
}

impl Drop for ChildGuard<'_> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let (status, stderr) = drop_status();
            state.emit(status, stderr, None);
        }
    }
}

/// Returns the template of the forwards of `module` in `model`, describing it to the
/// capture's writer the first time this thread sees it. Each thread keeps the
/// templates it described last (a model's and its children's), so that a forward
/// sends its row alone.
fn forward_template(capture: &Capture, model: &WorkflowId, module: ModuleRef<'_>) -> u64 {
    // A known shortcoming: a thread that cycles through more modules than this
    // describes them again and again, and the writer keeps every description until it
    // closes. Counting the open guards of each template would let the writer forget
    // the ones no row can name any more.
    const KEPT: usize = 256;
    struct Known {
        writer: u64,
        model: WorkflowId,
        activity: Box<str>,
        kind: ForwardKind,
        module_key: u64,
        id: u64,
    }
    thread_local! {
        static KNOWN: RefCell<Vec<Known>> = const { RefCell::new(Vec::new()) };
    }
    // Without a writer no row goes anywhere; any id does.
    let Some(writer) = capture.writer_id() else {
        return 0;
    };
    let module_key = module.key();
    KNOWN.with(|known| {
        let mut known = known.borrow_mut();
        // A described module's key stands for its type name and kind, which it never
        // changes; only a module named alone is told apart by its name.
        let hit = known.iter().rev().find(|k| {
            k.module_key == module_key
                && k.writer == writer
                && k.model == *model
                && (module_key != 0 || (k.kind == module.kind && *k.activity == *module.activity))
        });
        if let Some(hit) = hit {
            return hit.id;
        }
        let id = next_template_id();
        capture.describe(Template::Forward(ForwardMeta {
            id,
            workflow_id: model.clone(),
            activity_id: module.activity.to_owned(),
            kind: module.kind,
            attributes: module
                .described
                .map(|module| module.attributes.clone())
                .unwrap_or_default(),
        }));
        if known.len() == KEPT {
            known.remove(0);
        }
        known.push(Known {
            writer,
            model: model.clone(),
            activity: module.activity.into(),
            kind: module.kind,
            module_key,
            id,
        });
        id
    })
}

/// Inspects `tensor` when the plan says so and there is one.
fn inspect(wanted: bool, tensor: Option<&dyn TensorFacts>) -> Option<TensorInspection> {
    tensor.filter(|_| wanted).map(TensorInspection::of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::TelemetrySettings;

    fn policy(
        scope: Option<ForwardScope>,
        mode: Option<ChildrenMode>,
        every: u32,
        telemetry: bool,
    ) -> ForwardPolicy {
        ForwardPolicy {
            scope,
            children_mode: mode,
            every,
            telemetry,
        }
    }

    #[test]
    fn forwards_are_captured_in_epochs_that_are_multiples() {
        let p = policy(Some(ForwardScope::ParentOnly), None, 4, false);
        let captured: Vec<bool> = (0..9).map(|e| p.for_epoch(e).parent).collect();
        assert_eq!(
            captured,
            [true, false, false, false, true, false, false, false, true]
        );
        assert!(p.for_epoch(0).parent_tensors);
        assert!(!p.for_epoch(4).parent_tensors);
        assert!(!p.for_epoch(0).children);
    }

    #[test]
    fn tensor_inspection_children_stop_after_the_first_epoch() {
        let p = policy(
            Some(ForwardScope::ParentAndChildren),
            Some(ChildrenMode::TensorInspection),
            1,
            false,
        );
        let first = p.for_epoch(0);
        assert!(first.children && first.child_tensors && !first.child_telemetry);
        let later = p.for_epoch(1);
        assert!(later.parent && !later.children && !later.parent_tensors);
    }

    #[test]
    fn telemetry_children_go_on_in_every_captured_epoch() {
        let p = policy(
            Some(ForwardScope::ParentAndChildren),
            Some(ChildrenMode::Telemetry),
            1,
            true,
        );
        for epoch in 0..4 {
            let plan = p.for_epoch(epoch);
            assert!(plan.children && plan.child_telemetry && !plan.child_tensors);
        }
        let both = policy(
            Some(ForwardScope::ParentAndChildren),
            Some(ChildrenMode::TelemetryAndTensorInspection),
            1,
            true,
        );
        assert!(both.for_epoch(0).child_tensors);
        assert!(!both.for_epoch(1).child_tensors && both.for_epoch(1).child_telemetry);
    }

    #[test]
    fn nothing_is_planned_without_instrumentation() {
        let mut settings = Settings::default();
        settings.instrumentation.torch.what = Some(ForwardScope::ParentOnly);
        settings.telemetry_capture = TelemetrySettings::default();
        assert_eq!(
            ForwardPolicy::new(&settings, false).for_epoch(0),
            ForwardPlan::NOTHING
        );
        assert!(ForwardPolicy::new(&settings, true).for_epoch(0).parent);
        assert_eq!(ForwardPolicy::disabled().for_epoch(0), ForwardPlan::NOTHING);
    }
}
