//! The one place that picks the burn device a campaign trains on.
//!
//! `cpu` is burn's flex backend (pure Rust, always compiled). `wgpu` (cargo feature `wgpu`,
//! on by default) runs on whatever graphics API the machine offers: Vulkan, Metal, DX12, or
//! Mesa's lavapipe on machines without a GPU. The wgpu runtime is initialised eagerly with
//! burn's `Device::wgpu_options().init_with_setup()`, which reports a missing adapter as an
//! error; a lazily created wgpu device would panic on first use instead, in whatever worker
//! thread touched it first. burn initialises a wgpu runtime once per process, so the first
//! selection is kept and later ones return it.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::Serialize;
use tracing::debug;

/// The backends a campaign can run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's flex CPU backend.
    #[default]
    Cpu,
    /// burn's wgpu backend (needs the `wgpu` cargo feature and a graphics adapter).
    Wgpu,
}

impl BackendKind {
    /// Returns the name used on the command line and in records (`cpu`, `wgpu`).
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackendKind {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(BackendKind::Cpu),
            "wgpu" => Ok(BackendKind::Wgpu),
            other => Err(DeviceError::UnknownBackend {
                name: other.to_owned(),
            }),
        }
    }
}

/// Why no device could be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// A backend name that is neither `cpu` nor `wgpu`.
    #[error("unknown backend {name:?}: expected cpu or wgpu")]
    UnknownBackend {
        /// The name given.
        name: String,
    },
    /// The backend exists but this build leaves it out.
    #[error(
        "the {backend} backend is not compiled in: build the trainer with --features {backend}"
    )]
    NotCompiled {
        /// The backend asked for.
        backend: BackendKind,
    },
    /// wgpu found no adapter (no GPU, and no software Vulkan driver such as lavapipe).
    #[error(
        "no wgpu adapter found ({message}); install a GPU driver or Mesa's lavapipe \
         (mesa-vulkan-drivers), or use --backend cpu"
    )]
    NoAdapter {
        /// What wgpu reported.
        message: String,
    },
    /// wgpu found an adapter but could not start on it.
    #[error("cannot start wgpu: {message}")]
    WgpuInit {
        /// What wgpu reported.
        message: String,
    },
}

/// The device label of the CPU backend, as tensor inspections record it.
pub const CPU_LABEL: &str = "cpu";

/// What the device is, as the `SearchWorkflow`'s `machine_info` records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BackendInfo {
    /// `cpu` or `wgpu`.
    pub backend: String,
    /// The label written as the `device` of tensor inspections (`cpu`, `wgpu:0`).
    pub device: String,
    /// The adapter's name (wgpu only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter_name: Option<String>,
    /// The driver's name and version (wgpu only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other` (wgpu only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    /// The graphics API wgpu runs on: `Vulkan`, `Metal`, `Dx12`, `Gl` (wgpu only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wgpu_backend: Option<String>,
}

impl fmt::Display for BackendInfo {
    /// One line: the backend, then the adapter's facts when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.backend)?;
        let facts: Vec<&str> = [
            &self.adapter_name,
            &self.device_type,
            &self.wgpu_backend,
            &self.driver,
        ]
        .into_iter()
        .filter_map(|fact| fact.as_deref())
        .collect();
        if !facts.is_empty() {
            write!(f, " ({})", facts.join(", "))?;
        }
        Ok(())
    }
}

/// A device ready to train on, with what it is.
#[derive(Clone, Debug)]
pub struct SelectedDevice {
    /// The device, without autodiff (training adds it).
    pub device: Device,
    /// What it is.
    pub info: BackendInfo,
}

/// Returns the device of a backend.
///
/// # Errors
///
/// [`DeviceError::NoAdapter`] when wgpu finds no adapter, [`DeviceError::WgpuInit`] when it
/// cannot start on the one it found, [`DeviceError::NotCompiled`] for `wgpu` in a build
/// without the `wgpu` feature.
pub fn select(kind: BackendKind) -> Result<SelectedDevice, DeviceError> {
    debug!(backend = %kind, "selecting device");
    match kind {
        BackendKind::Cpu => Ok(SelectedDevice {
            device: Device::flex(),
            info: BackendInfo {
                backend: "cpu".to_owned(),
                device: CPU_LABEL.to_owned(),
                ..BackendInfo::default()
            },
        }),
        BackendKind::Wgpu => select_wgpu(),
    }
}

#[cfg(feature = "wgpu")]
fn select_wgpu() -> Result<SelectedDevice, DeviceError> {
    use std::sync::OnceLock;

    use burn::tensor::wgpu::WgpuInitError;

    static WGPU: OnceLock<Result<SelectedDevice, DeviceError>> = OnceLock::new();
    WGPU.get_or_init(|| {
        let (device, setup) =
            Device::wgpu_options()
                .init_with_setup()
                .map_err(|err| match err {
                    WgpuInitError::AdapterUnavailable { message, .. } => {
                        DeviceError::NoAdapter { message }
                    }
                    other => DeviceError::WgpuInit {
                        message: other.to_string(),
                    },
                })?;
        let adapter = setup.adapter.get_info();
        let driver = match (adapter.driver.is_empty(), adapter.driver_info.is_empty()) {
            (false, false) => format!("{} {}", adapter.driver, adapter.driver_info),
            (false, true) => adapter.driver.clone(),
            _ => adapter.driver_info.clone(),
        };
        let info = BackendInfo {
            backend: "wgpu".to_owned(),
            device: "wgpu:0".to_owned(),
            adapter_name: Some(adapter.name.clone()),
            driver: Some(driver),
            device_type: Some(format!("{:?}", adapter.device_type)),
            wgpu_backend: Some(format!("{:?}", setup.backend)),
        };
        debug!(?info, "wgpu device ready");
        Ok(SelectedDevice { device, info })
    })
    .clone()
}

#[cfg(not(feature = "wgpu"))]
fn select_wgpu() -> Result<SelectedDevice, DeviceError> {
    Err(DeviceError::NotCompiled {
        backend: BackendKind::Wgpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_there() {
        let selected = select(BackendKind::Cpu).unwrap();
        assert_eq!(selected.info.backend, "cpu");
        assert_eq!(
            serde_json::to_value(&selected.info).unwrap(),
            serde_json::json!({"backend": "cpu", "device": "cpu"})
        );
    }

    #[test]
    fn backend_names_parse() {
        assert_eq!("wgpu".parse::<BackendKind>(), Ok(BackendKind::Wgpu));
        assert_eq!(
            "cuda".parse::<BackendKind>().unwrap_err().to_string(),
            "unknown backend \"cuda\": expected cpu or wgpu"
        );
    }

    #[test]
    fn wgpu_gives_a_device_or_an_error_never_a_panic() {
        match select(BackendKind::Wgpu) {
            Ok(selected) => assert!(selected.info.adapter_name.is_some()),
            Err(err) => assert!(
                matches!(
                    err,
                    DeviceError::NoAdapter { .. }
                        | DeviceError::WgpuInit { .. }
                        | DeviceError::NotCompiled { .. }
                ),
                "{err}"
            ),
        }
    }
}
