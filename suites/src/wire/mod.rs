//! Putting CDEvents on the wire as CloudEvents over HTTP: the binding's attributes, the three
//! content modes, and the byte-exact requests the drivers send (and reports replay with curl).

mod encode;
mod sdk;

pub use encode::{
    ce_attributes_for, encode, percent_encode_header_value, raw_request, Mode, WireRequest,
    BATCH_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE,
};
pub use sdk::sdk_encode;
