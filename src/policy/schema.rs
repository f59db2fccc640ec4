//! serde structs mirroring the TOML. (In progress.)
