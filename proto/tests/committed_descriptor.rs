//! The descriptor set the Helm chart ships to Envoy (helm/xir/files/xir_descriptor.bin, also
//! mounted by docker-compose.yml) is the one this build makes: a proto change without it
//! would leave the edge transcoding an older API.
//!
//! After changing proto/, refresh it with
//!     XIR_UPDATE_DESCRIPTOR=1 cargo test -p xir-proto --test committed_descriptor
//! and commit the file.

use std::path::PathBuf;

#[test]
fn the_committed_descriptor_set_matches_the_build() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../helm/xir/files/xir_descriptor.bin");
    if std::env::var_os("XIR_UPDATE_DESCRIPTOR").is_some() {
        std::fs::write(&path, xir_proto::FILE_DESCRIPTOR_SET).expect("write the descriptor set");
    }
    let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        committed == xir_proto::FILE_DESCRIPTOR_SET,
        "{} is stale: run `XIR_UPDATE_DESCRIPTOR=1 cargo test -p xir-proto --test committed_descriptor` and commit it",
        path.display()
    );
}
