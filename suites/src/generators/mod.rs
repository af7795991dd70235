//! Event generators derived from the schema registry's catalogue, the one source of truth:
//! proptest strategies for valid events of every type of every version ([`arb_event`],
//! [`sample`] for one reproducible event per seed), and schema-level mutators that break exactly
//! one rule of a valid event ([`mutations`], [`arb_invalid_event`]).

mod mutate;
mod shape;
mod strings;
mod valid;

pub use mutate::{
    arb_invalid_event, arb_mutation, custom_mutations, mutations, mutations_for_type, Mutation,
    MutationKind,
};
pub use valid::{
    arb_custom_event, arb_event, arb_event_of_type, arb_valid_event, sample, seeded_runner,
    SampleError,
};
