//! Replaying an example on one side, in the suite's mode: [`step`] (each recorded model
//! call's exact messages to the model), [`trajectory`] (the model drives the run, tools
//! answered from the recording) or [`agent`] (a real agent CLI in a workdir, its model
//! calls through the gateway; its output read by [`agent_transcript`], cloning only what
//! `crate::suite::repository_policy` allows). Each gives a `crate::scoring::outcome::SideOutcome`;
//! [`spans`] turns a run's outcomes into traces Sextant ingests like any agent's.

pub mod agent;
pub mod agent_transcript;
pub mod spans;
pub mod step;
pub mod trajectory;
