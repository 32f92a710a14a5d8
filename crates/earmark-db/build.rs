//! The migrations are embedded at compile time (`embed_migrations!`), which cargo does not
//! know to watch: without this a new or changed migration leaves a stale build behind.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
