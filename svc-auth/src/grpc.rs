//! The gRPC adapter: parses each request into domain values, calls `Accounts`, maps back.

use tonic::{Request, Response, Status};
use xir_common::{auth, errors::FieldViolations};
use xir_proto::auth::v1::{self as pb, auth_service_server::AuthService};

use crate::{
    accounts::{Accounts, LoginAttempt, MAX_PASSWORD_CHARS, NewAccount, user_id},
    domain::{DisplayName, Email, Password, Username},
    error::Error,
};

/// Longer than any username or email address svc-auth accepts at sign-up.
const MAX_LOGIN_BYTES: usize = 320;

pub struct AuthApi {
    accounts: Accounts,
}

impl AuthApi {
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }
}

fn new_account(request: &pb::SignUpRequest) -> Result<NewAccount, FieldViolations> {
    let mut violations = FieldViolations::new();
    let username = violations.check("username", Username::parse(&request.username));
    let email = violations.check("email", Email::parse(&request.email));
    let password = violations.check(
        "password",
        Password::parse(&request.password, &request.username),
    );
    let display_name = if request.display_name.trim().is_empty() {
        &request.username
    } else {
        &request.display_name
    };
    let display_name = violations.check("display_name", DisplayName::parse(display_name));
    match (username, email, password, display_name) {
        (Some(username), Some(email), Some(password), Some(display_name)) => Ok(NewAccount {
            username,
            email,
            password,
            display_name,
        }),
        _ => Err(violations),
    }
}

fn check_login(request: &pb::LoginRequest) -> Result<&str, FieldViolations> {
    let mut violations = FieldViolations::new();
    let login = request.login.trim();
    // Neither a username nor an email address is long or holds control characters (and
    // PostgreSQL refuses a NUL byte in text outright).
    if login.is_empty() || login.len() > MAX_LOGIN_BYTES || login.chars().any(char::is_control) {
        violations.add("login", "must be a username or an email address");
    }
    if request.password.is_empty() || request.password.chars().count() > MAX_PASSWORD_CHARS {
        violations.add("password", "must be 1 to 128 characters long");
    }
    violations.into_result().map(|()| login)
}

fn refresh_token(token: &str) -> Result<&str, Error> {
    if token.is_empty() {
        return Err(FieldViolations::single("refresh_token", "is required").into());
    }
    Ok(token)
}

/// The client's address, for login throttling: `x-real-ip`, which the edge sets to the address
/// it trusts (overwriting whatever the client sent), else the peer of a direct gRPC call.
/// `x-forwarded-for` is never read: its first entries are whatever the client wrote.
fn client_address<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get("x-real-ip")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<std::net::IpAddr>().ok())
        .or_else(|| request.remote_addr().map(|addr| addr.ip()))
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_up(
        &self,
        request: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        let new = new_account(request.get_ref()).map_err(Error::from)?;
        let (user, tokens) = self.accounts.sign_up(new).await?;
        Ok(Response::new(pb::SignUpResponse {
            user_id: user.get(),
            tokens: Some(tokens),
        }))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let address = client_address(&request);
        let request = request.into_inner();
        let login = check_login(&request).map_err(Error::from)?;
        let attempt = LoginAttempt {
            login,
            password: &request.password,
            address: &address,
        };
        let (user, tokens) = self.accounts.login(attempt).await?;
        Ok(Response::new(pb::LoginResponse {
            user_id: user.get(),
            tokens: Some(tokens),
        }))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let request = request.into_inner();
        let tokens = self
            .accounts
            .refresh(refresh_token(&request.refresh_token)?)
            .await?;
        Ok(Response::new(pb::RefreshResponse {
            tokens: Some(tokens),
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let request = request.into_inner();
        self.accounts
            .logout(refresh_token(&request.refresh_token)?)
            .await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let user = user_id(auth::caller(&request)?.user_id)?;
        let request = request.into_inner();
        let tokens = self
            .accounts
            .change_password(user, &request.current_password, &request.new_password)
            .await?;
        Ok(Response::new(pb::ChangePasswordResponse {
            tokens: Some(tokens),
        }))
    }

    async fn get_jwks(
        &self,
        _: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        Ok(Response::new(pb::GetJwksResponse {
            keys: self.accounts.jwks(),
        }))
    }
}
