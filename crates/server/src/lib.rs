//! ackctl server.
