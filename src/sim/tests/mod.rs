//! Simulator tests over real sockets.
