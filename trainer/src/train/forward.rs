//! One model forward under capture: the parent row, and child rows when the plan asks.
//!
//! When the epoch's plan captures no forward this is the plain [`TransformerModel::forward`]
//! and nothing else: no ids, no wrappers, no guards. Children are observed only when the
//! parent guard says it captures them.

use burn::tensor::{Int, Tensor};
use capture_core::{
    Capture, ChildGuard, ChildModule, ForwardGuard, ForwardPlan, TaskId, WorkflowId,
};

use crate::model::{Child, Flow, ForwardObserver, ModelConfig, TransformerModel, child_attributes};
use crate::tensor_facts::{BurnTensorFacts, next_tensor_id};

/// The activity of parent-forward rows and the name the model registers under.
pub const MODEL_NAME: &str = "TransformerModel";

/// The model's first-level children as their forward rows describe them: type name and
/// attributes, made once per trained config.
#[derive(Debug)]
pub(crate) struct ChildModules([ChildModule; 4]);

impl ChildModules {
    /// Describes the children of a model built from `config`.
    pub fn of(config: &ModelConfig) -> Self {
        ChildModules(
            Child::ALL
                .map(|child| ChildModule::new(child.type_name(), child_attributes(child, config))),
        )
    }

    fn get(&self, child: Child) -> &ChildModule {
        &self.0[child.index()]
    }
}

/// Where the forwards of one pass are recorded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ForwardCapture<'a> {
    pub capture: &'a Capture,
    pub model_workflow: &'a WorkflowId,
    pub children: &'a ChildModules,
    pub plan: ForwardPlan,
    pub device_label: &'a str,
    pub is_training: bool,
}

impl ForwardCapture<'_> {
    /// Runs `model` on `src` (`[seq, batch]`), writing the rows the plan asks for under
    /// `parent` (the batch iteration, else the epoch iteration).
    pub fn forward(
        &self,
        model: &TransformerModel,
        src: Tensor<2, Int>,
        parent: Option<&TaskId>,
    ) -> Tensor<3> {
        if !self.plan.parent {
            return model.forward(src);
        }
        let src_id = next_tensor_id();
        let guard = self.capture.parent_forward(
            self.model_workflow,
            MODEL_NAME,
            parent,
            &self.plan,
            self.is_training,
            Some(&BurnTensorFacts::tokens(&src, src_id, self.device_label)),
        );
        let (logits, logits_id) = if guard.captures_children() {
            let mut children = ChildCapture {
                parent: &guard,
                modules: self.children,
                open: None,
                device_label: self.device_label,
            };
            model.forward_observed(src, src_id, &mut children)
        } else {
            (model.forward(src), next_tensor_id())
        };
        guard.end(Some(&BurnTensorFacts::activations(
            &logits,
            logits_id,
            self.device_label,
        )));
        logits
    }
}

/// Opens a child row when a child starts and ends it when the child is done.
struct ChildCapture<'a> {
    parent: &'a ForwardGuard,
    modules: &'a ChildModules,
    open: Option<ChildGuard<'a>>,
    device_label: &'a str,
}

impl ForwardObserver for ChildCapture<'_> {
    fn child_start(&mut self, child: Child, input: &Flow<'_>) {
        let facts = BurnTensorFacts::new(*input, self.device_label);
        self.open = Some(
            self.parent
                .child_module(self.modules.get(child), Some(&facts)),
        );
    }

    fn child_end(&mut self, _child: Child, output: &Flow<'_>) {
        if let Some(guard) = self.open.take() {
            guard.end(Some(&BurnTensorFacts::new(*output, self.device_label)));
        }
    }
}
