//! A local imitation of the ANEF portal and prefecture booking systems (placeholder).
