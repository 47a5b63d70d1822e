//! Compiles proto/ with protox (pure Rust: no protoc on the build machine) into the generated
//! code and into one descriptor set that reflection and the Envoy edge both read.

use std::{env, fs, path::PathBuf};

const PROTO_ROOT: &str = "proto";

/// The files that define the API; their imports (google/api, well-known types) come along.
const PROTO_FILES: &[&str] = &[
    "xir/auth/v1/auth.proto",
    "xir/user/v1/user.proto",
    "xir/tweet/v1/tweet.proto",
    "xir/timeline/v1/timeline.proto",
    // Not imported by the API, but the services send these as error details and Envoy's
    // transcoder (convert_grpc_status) can only print details whose types it knows.
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // tonic-prost-build prints no rerun-if-changed of its own.
    println!("cargo:rerun-if-changed={PROTO_ROOT}");

    let mut compiler = protox::Compiler::new([PROTO_ROOT])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTO_FILES)?;

    // `encode_file_descriptor_set` keeps the google.api.http options that Envoy's transcoder
    // needs; re-encoding through prost-types would drop them as unknown extensions.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("xir_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
