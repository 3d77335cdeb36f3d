//! Mesos v1 scheduler API messages as JSON (serde).
//!
//! Field names are the protobuf field names (snake_case) because the master's JSON
//! converter looks fields up by proto name and silently ignores anything else
//! (`PROTOCOL.md` §1). Optionals that are unset and empty repeated fields are left
//! out, as the master does. Rarely used nested messages the scheduler never
//! inspects are kept as raw `serde_json::Value` so they survive a round trip.

/// Declares a protobuf enum carried as its NAME string, with a fallback for names this
/// build does not know (Mesos adds enum values over time and clients must not choke).
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)+
            /// A name this build does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Unknown(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => Self::$variant,)+
                    _ => Self::Unknown(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod call;
mod common;
mod event;

pub use call::*;
pub use common::*;
pub use event::*;

/// serde helper: skip empty vectors on output, as protobuf does for repeated fields.
pub(crate) fn is_empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

#[cfg(test)]
mod tests;
