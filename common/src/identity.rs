//! Service identity: who is calling an internal RPC.
//!
//! Every service holds an Ed25519 key of its own and the public keys of the other services.
//! A call to another service carries a short-lived token (an EdDSA JWT, header
//! [`SERVICE_TOKEN_HEADER`]) that the caller signs with its key: `iss` and `kid` are the
//! caller's name, `aud` the receiver's. The receiver checks the signature against the key it
//! trusts for that name, the audience and expiry, and then whether the method lists that
//! caller ([`InternalRpc`], enforced by [`crate::auth::AuthLayer`]). It needs no mesh and no
//! network round trip, so it works the same in Compose, `scripts/dev` and any cluster; a mesh,
//! where there is one, adds its own mTLS policies on top (the chart renders them).
//!
//! Keys come from `identity.key_dir`: `<service>.key` (this service's private key, PKCS#8 PEM)
//! and `<peer>.crt` for each peer it accepts calls from (a certificate or a public key, PEM).
//! For development only, `identity.development_keys = true` derives every service's key from
//! its name, so anyone can mint any identity: Compose, `scripts/dev` and the tests use it; the
//! chart never does.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The metadata key that carries the caller's service token.
pub const SERVICE_TOKEN_HEADER: &str = "x-xir-service-token";

/// The services that call each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    Auth,
    User,
    Tweet,
    Timeline,
}

impl Peer {
    pub const ALL: [Peer; 4] = [Peer::Auth, Peer::User, Peer::Tweet, Peer::Timeline];

    /// The component name: `svc-auth`, ... (also the key files' names and the chart's).
    pub fn name(self) -> &'static str {
        match self {
            Peer::Auth => "svc-auth",
            Peer::User => "svc-user",
            Peer::Tweet => "svc-tweet",
            Peer::Timeline => "svc-timeline",
        }
    }

    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|peer| peer.name() == name)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An internal method of a service and the only services that may call it.
#[derive(Debug, Clone, Copy)]
pub struct InternalRpc {
    /// The method name, e.g. `CreateProfile`.
    pub method: &'static str,
    pub callers: &'static [Peer],
}

/// `[identity]`: where this service's key and its peers' public keys come from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentitySettings {
    /// Directory holding `<this service>.key` and `<peer>.crt` files.
    pub key_dir: Option<PathBuf>,
    /// DEVELOPMENT ONLY: derive every service's key from its name (public knowledge), so that
    /// no keys need provisioning. Anyone who can reach a port can then impersonate a service.
    pub development_keys: bool,
    /// Lifetime of the tokens this service mints, in seconds.
    pub token_ttl_secs: u64,
    /// Clock skew tolerated on `exp`, in seconds.
    pub leeway_secs: u64,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            key_dir: None,
            development_keys: false,
            token_ttl_secs: 300,
            leeway_secs: 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "identity.key_dir is required (a directory with {0}.key and the peers' .crt files, \
         e.g. the chart's service-identity Secret); for development only, \
         identity.development_keys = true (XIR_IDENTITY__DEVELOPMENT_KEYS=true) derives \
         insecure keys from the service names"
    )]
    NotConfigured(Peer),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not an Ed25519 key in PEM")]
    Pem(PathBuf),
}

/// Why a service token was refused.
#[derive(Debug, thiserror::Error)]
pub enum ServiceTokenError {
    #[error("internal RPC: no service token ({SERVICE_TOKEN_HEADER})")]
    Missing,
    #[error("malformed service token")]
    Malformed,
    #[error("service token from an unknown or untrusted service")]
    UnknownService,
    #[error("invalid service token: {0}")]
    Invalid(jsonwebtoken::errors::Error),
}

#[derive(Debug, Serialize, Deserialize)]
struct ServiceClaims {
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
}

/// This service's identity: it mints tokens for its calls and checks its callers'.
pub struct ServiceIdentity {
    me: Peer,
    signing: EncodingKey,
    trusted: HashMap<Peer, (DecodingKey, Validation)>,
    ttl: Duration,
    /// Minted tokens by audience, reused until a minute before they expire.
    minted: Mutex<HashMap<Peer, (String, Instant)>>,
}

impl ServiceIdentity {
    pub fn from_settings(me: Peer, settings: &IdentitySettings) -> Result<Self, IdentityError> {
        if let Some(dir) = &settings.key_dir {
            return Self::from_dir(me, dir, settings);
        }
        if !settings.development_keys {
            return Err(IdentityError::NotConfigured(me));
        }
        tracing::warn!(
            "identity.development_keys is on: service keys are derived from public names; \
             anyone who reaches a service port can call its internal RPCs"
        );
        Ok(Self::development(me, settings))
    }

    /// The development identity of `me`, trusting every service's development key.
    pub fn development(me: Peer, settings: &IdentitySettings) -> Self {
        let trusted = Peer::ALL
            .into_iter()
            .map(|peer| {
                // The raw 32-byte key: what `from_ed_pem` extracts from a PEM file too.
                let public = development_key(peer).verifying_key().to_bytes();
                (peer, DecodingKey::from_ed_der(&public))
            })
            .collect();
        Self::new(me, &development_key(me), trusted, settings)
    }

    fn from_dir(me: Peer, dir: &Path, settings: &IdentitySettings) -> Result<Self, IdentityError> {
        let key_path = dir.join(format!("{me}.key"));
        let pem = read(&key_path)?;
        let signing = <SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem)
            .map_err(|_| IdentityError::Pem(key_path))?;
        let mut trusted = HashMap::new();
        for peer in Peer::ALL {
            let path = dir.join(format!("{peer}.crt"));
            if !path.exists() {
                tracing::info!(%peer, "no public key: its internal calls will be refused");
                continue;
            }
            let key = DecodingKey::from_ed_pem(read(&path)?.as_bytes())
                .map_err(|_| IdentityError::Pem(path))?;
            trusted.insert(peer, key);
        }
        Ok(Self::new(me, &signing, trusted, settings))
    }

    fn new(
        me: Peer,
        signing: &SigningKey,
        trusted: HashMap<Peer, DecodingKey>,
        settings: &IdentitySettings,
    ) -> Self {
        let der = signing
            .to_pkcs8_der()
            .expect("an Ed25519 private key encodes");
        let trusted = trusted
            .into_iter()
            .map(|(peer, key)| {
                let mut validation = Validation::new(Algorithm::EdDSA);
                validation.algorithms = vec![Algorithm::EdDSA];
                validation.set_issuer(&[peer.name()]);
                validation.set_audience(&[me.name()]);
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
                validation.leeway = settings.leeway_secs;
                (peer, (key, validation))
            })
            .collect();
        Self {
            me,
            signing: EncodingKey::from_ed_der(der.as_bytes()),
            trusted,
            ttl: Duration::from_secs(settings.token_ttl_secs.max(60)),
            minted: Mutex::new(HashMap::new()),
        }
    }

    /// A token for a call to `audience`: minted once, reused until shortly before expiry.
    pub fn token_for(&self, audience: Peer) -> String {
        let mut minted = self
            .minted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((token, renew_at)) = minted.get(&audience)
            && Instant::now() < *renew_at
        {
            return token.clone();
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = ServiceClaims {
            iss: self.me.name().to_owned(),
            aud: audience.name().to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.me.name().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &self.signing)
            .expect("EdDSA signing with a valid key cannot fail");
        let renew_at = Instant::now() + self.ttl.saturating_sub(Duration::from_secs(60));
        minted.insert(audience, (token.clone(), renew_at));
        token
    }

    /// The service that signed `token` for this service.
    pub fn verify(&self, token: &str) -> Result<Peer, ServiceTokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| ServiceTokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(ServiceTokenError::Malformed);
        }
        let peer = header
            .kid
            .as_deref()
            .and_then(Peer::from_name)
            .ok_or(ServiceTokenError::UnknownService)?;
        let (key, validation) = self
            .trusted
            .get(&peer)
            .ok_or(ServiceTokenError::UnknownService)?;
        jsonwebtoken::decode::<ServiceClaims>(token, key, validation)
            .map_err(ServiceTokenError::Invalid)?;
        Ok(peer)
    }
}

/// The development key of `peer`: derived from its name, so every process agrees on it and
/// no one should trust it.
fn development_key(peer: Peer) -> SigningKey {
    let seed: [u8; 32] =
        Sha256::digest(format!("xir DEVELOPMENT ONLY service identity: {peer}")).into();
    SigningKey::from_bytes(&seed)
}

fn read(path: &Path) -> Result<String, IdentityError> {
    std::fs::read_to_string(path).map_err(|source| IdentityError::Read {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::pkcs8::EncodePublicKey;

    use super::*;

    fn development(me: Peer) -> ServiceIdentity {
        ServiceIdentity::development(me, &IdentitySettings::default())
    }

    #[test]
    fn a_token_names_its_signer_to_its_audience_only() {
        let tweet = development(Peer::Tweet);
        let token = tweet.token_for(Peer::Timeline);
        assert_eq!(
            development(Peer::Timeline).verify(&token).unwrap(),
            Peer::Tweet
        );
        assert!(matches!(
            development(Peer::User).verify(&token),
            Err(ServiceTokenError::Invalid(_))
        ));
    }

    #[test]
    fn tokens_are_reused_until_renewal() {
        let auth = development(Peer::Auth);
        assert_eq!(auth.token_for(Peer::User), auth.token_for(Peer::User));
    }

    #[test]
    fn a_key_claimed_under_another_name_is_refused() {
        // Signed with the auth key but naming svc-tweet as its kid: the signature fails
        // against svc-tweet's key.
        let auth = development(Peer::Auth);
        let token = auth.token_for(Peer::User);
        let (header, rest) = token.split_once('.').unwrap();
        let mut decoded: serde_json::Value =
            serde_json::from_slice(&base64_url_decode(header)).unwrap();
        decoded["kid"] = "svc-tweet".into();
        let forged = format!("{}.{rest}", base64_url_encode(&decoded.to_string()));
        assert!(development(Peer::User).verify(&forged).is_err());
    }

    #[test]
    fn keys_load_from_a_directory_of_pem_files() {
        let dir = std::env::temp_dir().join(format!("xir-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let user_key = SigningKey::from_bytes(&[7; 32]);
        let auth_key = SigningKey::from_bytes(&[9; 32]);
        let pem = |key: &SigningKey| key.to_pkcs8_pem(Default::default()).unwrap().to_string();
        std::fs::write(dir.join("svc-user.key"), pem(&user_key)).unwrap();
        std::fs::write(dir.join("svc-auth.key"), pem(&auth_key)).unwrap();
        std::fs::write(
            dir.join("svc-auth.crt"),
            auth_key
                .verifying_key()
                .to_public_key_pem(Default::default())
                .unwrap(),
        )
        .unwrap();
        let settings = IdentitySettings {
            key_dir: Some(dir.clone()),
            ..IdentitySettings::default()
        };
        let user = ServiceIdentity::from_settings(Peer::User, &settings).unwrap();
        let auth = ServiceIdentity::from_settings(Peer::Auth, &settings).unwrap();
        assert_eq!(
            user.verify(&auth.token_for(Peer::User)).unwrap(),
            Peer::Auth
        );
        // svc-user's public key is not in the directory: svc-auth trusts no svc-user token,
        // and a development token is no substitute for a provisioned one.
        assert!(matches!(
            auth.verify(&user.token_for(Peer::Auth)),
            Err(ServiceTokenError::UnknownService)
        ));
        assert!(
            user.verify(&development(Peer::Auth).token_for(Peer::User))
                .is_err()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn without_keys_or_the_development_switch_it_refuses_to_start() {
        let error = ServiceIdentity::from_settings(Peer::User, &IdentitySettings::default())
            .err()
            .unwrap();
        assert!(error.to_string().contains("identity.key_dir is required"));
    }

    fn base64_url_decode(text: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap()
    }

    fn base64_url_encode(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }
}
