//! The demo configuration and simulator probes, compiled into the binary so
//! that `vigie demo` works from any folder on a fresh machine. A test checks
//! that this list matches the files in the repository.

use crate::config::EmbeddedFiles;

pub const DEMO_CONFIG: &str = "config/demo.yaml";

pub static FILES: EmbeddedFiles = EmbeddedFiles(&[
    ("config/demo.yaml", include_bytes!("../../config/demo.yaml")),
    (
        "probes/sim/sim-anef-accueil.yaml",
        include_bytes!("../../probes/sim/sim-anef-accueil.yaml"),
    ),
    (
        "probes/sim/sim-anef-navigateur.yaml",
        include_bytes!("../../probes/sim/sim-anef-navigateur.yaml"),
    ),
    (
        "probes/sim/sim-anef-creation-compte.yaml",
        include_bytes!("../../probes/sim/sim-anef-creation-compte.yaml"),
    ),
    (
        "probes/sim/sim-anef-creation-compte-navigateur.yaml",
        include_bytes!("../../probes/sim/sim-anef-creation-compte-navigateur.yaml"),
    ),
    (
        "probes/sim/sim-anef-depot-document.yaml",
        include_bytes!("../../probes/sim/sim-anef-depot-document.yaml"),
    ),
    (
        "probes/sim/sim-anef-depot-navigateur.yaml",
        include_bytes!("../../probes/sim/sim-anef-depot-navigateur.yaml"),
    ),
    (
        "probes/sim/sim-prefecture-rdv.yaml",
        include_bytes!("../../probes/sim/sim-prefecture-rdv.yaml"),
    ),
    (
        "probes/sim/sim-prefecture-rdv-navigateur.yaml",
        include_bytes!("../../probes/sim/sim-prefecture-rdv-navigateur.yaml"),
    ),
    (
        "probes/sim/sim-rdv-prefecture.yaml",
        include_bytes!("../../probes/sim/sim-rdv-prefecture.yaml"),
    ),
    (
        "probes/sim/sim-rdv-prefecture-navigateur.yaml",
        include_bytes!("../../probes/sim/sim-rdv-prefecture-navigateur.yaml"),
    ),
]);
