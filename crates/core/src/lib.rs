//! The event model shared by every part of logstash-mesos.
//!
//! An [`Event`] is a tree of [`Value`]s addressed by [`FieldRef`]s (`[a][b]`), with
//! `@timestamp`, `@version`, `tags` and a separate `@metadata` tree that outputs never see.
//! [`Template`] renders Logstash's `%{...}` sprintf syntax, and [`Ack`] carries a source's
//! acknowledgement through the pipeline so checkpoints advance only after delivery.
//!
//! Shared source machinery lives here too, so every crate reaches it: [`DeliveryTracker`]
//! (how far a checkpoint may go, given acks in any order), [`state_file`] (versioned JSON
//! written atomically) and [`Backoff`] (exponential retry delays).
//!
//! ```
//! use logstash_mesos_core::{Event, FieldRef, Template, Value};
//! let mut event = Event::from_message("hello");
//! event.set(&FieldRef::parse("[app][name]").unwrap(), Value::from("shop"));
//! let t = Template::compile("%{[app][name]}: %{message}");
//! assert_eq!(t.render(&event), "shop: hello");
//! ```

pub mod ack;
pub mod agent_protocol;
pub mod backoff;
pub mod delivery;
pub mod event;
pub mod fieldref;
pub mod joda;
pub mod json_out;
pub mod map;
pub mod sprintf;
pub mod state_file;
pub mod timestamp;
pub mod value;

pub use ack::{Ack, AckSink, Acks};
pub use backoff::Backoff;
pub use delivery::{DeliveryTracker, SharedDelivery};
pub use event::Event;
pub use fieldref::{FieldRef, FieldRefError};
pub use sprintf::Template;
pub use timestamp::Timestamp;
pub use value::{Key, Map, Value};
