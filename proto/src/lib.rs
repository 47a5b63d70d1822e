//! The v1 API of X-in-Rust, generated from `proto/` at build time.
//!
//! One module per package, mirroring the proto package names, plus [`FILE_DESCRIPTOR_SET`]:
//! the encoded descriptors of every file (imports included, `google.api.http` options kept),
//! registered with gRPC reflection and handed to the Envoy transcoder.

/// The encoded `google.protobuf.FileDescriptorSet` of the whole API.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/xir_descriptor.bin"));

pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
    /// The gRPC error model (`Status` and its detail messages), as the REST edge prints it.
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub mod auth {
    pub mod v1 {
        tonic::include_proto!("xir.auth.v1");
        /// The fully qualified gRPC service name, as health and reflection report it.
        pub const SERVICE_NAME: &str = "xir.auth.v1.AuthService";
    }
}

pub mod user {
    pub mod v1 {
        tonic::include_proto!("xir.user.v1");
        /// The fully qualified gRPC service name, as health and reflection report it.
        pub const SERVICE_NAME: &str = "xir.user.v1.UserService";
    }
}

pub mod tweet {
    pub mod v1 {
        tonic::include_proto!("xir.tweet.v1");
        /// The fully qualified gRPC service name, as health and reflection report it.
        pub const SERVICE_NAME: &str = "xir.tweet.v1.TweetService";
    }
}

pub mod timeline {
    pub mod v1 {
        tonic::include_proto!("xir.timeline.v1");
        /// The fully qualified gRPC service name, as health and reflection report it.
        pub const SERVICE_NAME: &str = "xir.timeline.v1.TimelineService";
    }
}
