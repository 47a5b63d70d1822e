//! The tonic service. The account and token RPCs arrive with issue 3; until then each answers
//! UNIMPLEMENTED, while health, reflection, metrics and readiness are served for real.

use sqlx::PgPool;
use tonic::{Request, Response, Status};
use xir_proto::auth::v1::{self as pb, auth_service_server::AuthService};

pub struct AuthApi {
    #[allow(dead_code)] // read by the account RPCs (issue 3)
    pool: PgPool,
}

impl AuthApi {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn not_yet(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc} is not implemented yet"))
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_up(
        &self,
        _: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        Err(not_yet("SignUp"))
    }

    async fn login(
        &self,
        _: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        Err(not_yet("Login"))
    }

    async fn refresh(
        &self,
        _: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        Err(not_yet("Refresh"))
    }

    async fn logout(
        &self,
        _: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        Err(not_yet("Logout"))
    }

    async fn change_password(
        &self,
        _: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        Err(not_yet("ChangePassword"))
    }

    async fn get_jwks(
        &self,
        _: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        Err(not_yet("GetJwks"))
    }
}
