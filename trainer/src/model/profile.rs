//! The model profile Flowcept records when a model registers as a workflow.
//!
//! Flowcept's keys: `params` (parameter count), `max_width` (largest dimension of any
//! parameter), `n_modules`, `modules` (one entry per module, keyed `<Type>_<n>`) and
//! `model_repr` (burn's printed module tree). The module entries come from walking burn's
//! own module tree with a [`ModuleVisitor`], so they list what burn built: burn's attention
//! keeps separate query, key and value projections where PyTorch packs one `[3d, d]` matrix,
//! so `max_width` is the vocabulary size (254 by default) where Flowcept reports 600.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use serde_json::{Map, Value, json};

use super::transformer::{Child, ModelConfig, TransformerModel};

/// The profile of a model, serialised under Flowcept's keys.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelProfile {
    /// Number of parameters.
    pub params: usize,
    /// Largest dimension of any parameter.
    pub max_width: usize,
    /// Number of modules, the model itself included.
    pub n_modules: usize,
    /// One entry per module.
    pub modules: Map<String, Value>,
    /// burn's printed module tree.
    pub model_repr: String,
}

impl ModelProfile {
    /// Profiles a model built from `config`.
    pub fn of(model: &TransformerModel, config: &ModelConfig) -> ModelProfile {
        let mut tree = TreeBuilder::default();
        model.visit(&mut tree);
        let mut modules = Map::new();
        let mut max_width = 0;
        for (position, node) in tree.nodes.iter().enumerate() {
            max_width = node
                .param_shapes
                .iter()
                .flat_map(|(_, shape)| shape.iter().copied())
                .fold(max_width, usize::max);
            let Some(type_name) = &node.type_name else {
                continue; // a parameter or flag leaf, not a module
            };
            let mut entry = Map::new();
            entry.insert("type".into(), json!(type_name));
            if position == 0 {
                entry.insert("model_type".into(), json!("Transformer"));
                entry.insert("d_model".into(), json!(config.emsize));
            } else {
                entry.insert("in_named".into(), json!(node.name));
            }
            entry.insert("training".into(), json!(true));
            let params = tree.params_under(position);
            if params > 0 {
                entry.insert("n_params".into(), json!(params));
            }
            let shapes: Map<String, Value> = tree
                .leaf_shapes(position)
                .map(|(name, shape)| (name, json!(shape)))
                .collect();
            if !shapes.is_empty() {
                entry.insert("param_shapes".into(), Value::Object(shapes));
            }
            if node.depth == 1
                && let Some(child) = Child::ALL.iter().find(|c| c.field_name() == node.name)
            {
                entry.extend(child_attributes(*child, config));
            }
            modules.insert(
                format!("{type_name}_{}", modules.len()),
                Value::Object(entry),
            );
        }
        ModelProfile {
            params: model.num_params(),
            max_width,
            n_modules: modules.len(),
            modules,
            model_repr: format!("{model}"),
        }
    }

    /// Returns `{"params", "max_width", "n_modules", "modules", "model_repr"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "params": self.params,
            "max_width": self.max_width,
            "n_modules": self.n_modules,
            "modules": self.modules,
            "model_repr": self.model_repr,
        })
    }
}

/// The attributes Flowcept records for a first-level child (in its profile entry and in its
/// child-forward rows' `used`), under PyTorch's names where there is one.
pub fn child_attributes(child: Child, config: &ModelConfig) -> Map<String, Value> {
    let value = match child {
        Child::Encoder => json!({
            "num_embeddings": config.ntokens,
            "embedding_dim": config.emsize,
            "first_level_child": true,
        }),
        Child::PosEncoder => json!({
            "d_model": config.emsize,
            "max_len": config.pos_encoding_max_len,
            "dropout": config.dropout,
            "first_level_child": true,
        }),
        Child::TransformerEncoder => json!({
            "num_layers": config.nlayers,
            "d_model": config.emsize,
            "nhead": config.nhead,
            "dim_feedforward": config.nhid,
            "dropout": config.dropout,
            "activation": "relu",
            "norm_first": false,
            "first_level_child": true,
        }),
        Child::Decoder => json!({
            "in_features": config.emsize,
            "out_features": config.ntokens,
            "first_level_child": true,
        }),
    };
    match value {
        Value::Object(map) => map,
        _ => unreachable!("every arm above builds a JSON object"),
    }
}

/// One node of burn's module tree as the visitor sees it.
#[derive(Debug, Default)]
struct Node {
    name: String,
    depth: usize,
    parent: Option<usize>,
    /// Known once one of its fields is entered: burn names the container on entry.
    type_name: Option<String>,
    /// Shapes of the float parameters directly at this node (a parameter leaf has one).
    param_shapes: Vec<(String, Vec<usize>)>,
}

/// Rebuilds the module tree from burn's enter/exit/visit calls.
#[derive(Debug)]
struct TreeBuilder {
    nodes: Vec<Node>,
    stack: Vec<usize>,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        TreeBuilder {
            nodes: vec![Node::default()],
            stack: vec![0],
        }
    }
}

impl TreeBuilder {
    fn current(&self) -> usize {
        *self.stack.last().expect("the root stays on the stack")
    }

    fn descendants(&self, root: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(move |&i| {
            let mut at = Some(i);
            while let Some(n) = at {
                if n == root {
                    return true;
                }
                at = self.nodes[n].parent;
            }
            false
        })
    }

    fn params_under(&self, root: usize) -> usize {
        self.descendants(root)
            .flat_map(|i| self.nodes[i].param_shapes.iter())
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }

    /// Shapes of the parameters that are direct fields of a module.
    fn leaf_shapes(&self, module: usize) -> impl Iterator<Item = (String, Vec<usize>)> + '_ {
        self.nodes
            .iter()
            .filter(move |n| n.parent == Some(module) && n.type_name.is_none())
            .flat_map(|n| n.param_shapes.iter().cloned())
    }
}

impl ModuleVisitor for TreeBuilder {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        let parent = self.current();
        if self.nodes[parent].type_name.is_none() {
            let type_name = container_type
                .strip_prefix("Struct:")
                .or_else(|| container_type.strip_prefix("Enum:"))
                .unwrap_or(container_type);
            self.nodes[parent].type_name = Some(type_name.to_owned());
        }
        let depth = self.nodes[parent].depth + 1;
        self.nodes.push(Node {
            name: name.to_owned(),
            depth,
            parent: Some(parent),
            ..Node::default()
        });
        self.stack.push(self.nodes.len() - 1);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let at = self.current();
        let name = self.nodes[at].name.clone();
        self.nodes[at]
            .param_shapes
            .push((name, param.lazy_shape().to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn the_default_profile_has_flowcepts_keys_and_the_four_children() {
        let _rng = crate::model::lock_test_rng();
        let config = ModelConfig::default();
        let model = config.init(&Device::flex()).unwrap();
        let profile = ModelProfile::of(&model, &config);
        assert_eq!(profile.params, 585_854);
        assert_eq!(profile.max_width, 254);
        let json = profile.to_json();
        for key in ["params", "max_width", "n_modules", "modules", "model_repr"] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        let mut first_level: Vec<(String, String)> = profile
            .modules
            .values()
            .filter(|m| m["first_level_child"] == json!(true))
            .map(|m| {
                (
                    m["in_named"].as_str().unwrap().to_owned(),
                    m["type"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        first_level.sort();
        assert_eq!(
            first_level,
            [
                ("decoder".to_owned(), "Linear".to_owned()),
                ("encoder".to_owned(), "Embedding".to_owned()),
                ("pos_encoder".to_owned(), "PositionalEncoding".to_owned()),
                (
                    "transformer_encoder".to_owned(),
                    "TransformerEncoder".to_owned()
                ),
            ]
        );
        let root = profile
            .modules
            .values()
            .find(|m| m.get("model_type").is_some())
            .expect("the model's own entry");
        assert_eq!(root["type"], json!("TransformerModel"));
        assert_eq!(root["n_params"], json!(585_854));
        assert_eq!(profile.n_modules, profile.modules.len());
        assert!(profile.model_repr.contains("TransformerModel"));
    }
}
