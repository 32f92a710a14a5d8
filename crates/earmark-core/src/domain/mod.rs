//! Validated domain types. Everything here can be built only in a valid state.

pub mod asin;
pub mod book;
pub mod chapter;
pub mod event;
pub mod file;
pub mod format;
pub mod job;
pub mod job_spec;
pub mod library_query;
pub mod local_item;
pub mod naming;
pub mod parenthood;
pub mod progress;
pub mod secret;
pub mod settings;
pub mod webhook;

/// A string did not name any variant of one of the domain's enumerations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}; expected one of: {expected}")]
pub struct ParseEnumError {
    /// Which enumeration was being parsed, e.g. "job status".
    pub what: &'static str,
    /// The rejected input.
    pub value: String,
    /// The accepted spellings, comma separated.
    pub expected: &'static str,
}

/// Declares a fieldless enum whose wire form (database column, JSON, query string) is a fixed
/// string per variant, with `as_str`, `Display`, `FromStr` and serde in terms of that string.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable wire spelling of this variant.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::ParseEnumError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::domain::ParseEnumError {
                        what: $what,
                        value: value.to_owned(),
                        expected: concat!($($wire, " "),+),
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                raw.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use wire_enum;
