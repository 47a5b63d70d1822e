//! The Ed25519 keys that sign access tokens, the JWKS that publishes their public halves, and
//! minting.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ed25519_dalek::{
    SigningKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest, Sha256};
use xir_common::auth::{AuthSettings, Claims};
use xir_proto::auth::v1::Jwk;

use crate::{config::TokenSettings, domain::UserId};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("tokens.{0} is not an Ed25519 private key in PKCS#8 PEM")]
    Pem(&'static str),
    #[error("cannot encode the signing key")]
    Encode,
}

struct Key {
    kid: String,
    jwk: Jwk,
    encoding: EncodingKey,
}

impl Key {
    fn new(signing: &SigningKey) -> Result<Self, KeyError> {
        let public = signing.verifying_key().to_bytes();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]);
        let der = signing.to_pkcs8_der().map_err(|_| KeyError::Encode)?;
        Ok(Self {
            jwk: Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: URL_SAFE_NO_PAD.encode(public),
                kid: kid.clone(),
                alg: "EdDSA".into(),
                r#use: "sig".into(),
            },
            kid,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
        })
    }
}

pub struct SigningKeys {
    current: Key,
    previous: Option<Key>,
}

impl SigningKeys {
    pub fn from_settings(settings: &TokenSettings) -> Result<Self, KeyError> {
        let current = match &settings.signing_key_pem {
            Some(pem) => parse(pem.expose(), "signing_key_pem")?,
            None => {
                tracing::warn!(
                    "no tokens.signing_key_pem configured: generated a development signing key; \
                     tokens will not verify after a restart or on other replicas"
                );
                SigningKey::from_bytes(&rand::random())
            }
        };
        let previous = settings
            .previous_signing_key_pem
            .as_ref()
            .map(|pem| {
                parse(pem.expose(), "previous_signing_key_pem").and_then(|key| Key::new(&key))
            })
            .transpose()?;
        Ok(Self {
            current: Key::new(&current)?,
            previous,
        })
    }

    /// The public keys: the current one first, then the previous one during a rotation.
    pub fn jwks(&self) -> Vec<Jwk> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|key| key.jwk.clone())
            .collect()
    }

    /// An access token for `user`, and when it expires.
    pub fn mint(
        &self,
        user: UserId,
        auth: &AuthSettings,
        ttl_secs: u64,
    ) -> Result<(String, DateTime<Utc>), jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let expires_at = now + chrono::Duration::seconds(ttl_secs as i64);
        let claims = Claims {
            iss: auth.issuer.clone(),
            aud: auth.audience.clone(),
            sub: user.get().to_string(),
            iat: now.timestamp() as u64,
            nbf: now.timestamp() as u64,
            exp: expires_at.timestamp() as u64,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.current.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.current.encoding)?;
        Ok((token, expires_at))
    }
}

fn parse(pem: &str, key: &'static str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError::Pem(key))
}

/// A fresh key as PKCS#8 PEM, for operators generating `tokens.signing_key_pem`.
pub fn generate_pem() -> Result<String, KeyError> {
    let key = SigningKey::from_bytes(&rand::random());
    key.to_pkcs8_pem(Default::default())
        .map(|pem| pem.to_string())
        .map_err(|_| KeyError::Encode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xir_common::{
        auth::{KeySource, TokenVerifier},
        settings::Secret,
    };

    #[tokio::test]
    async fn minted_tokens_verify_against_the_published_keys_including_the_previous_one() {
        let old = generate_pem().expect("pem");
        let new = generate_pem().expect("pem");
        let auth = AuthSettings::default();
        let before = SigningKeys::from_settings(&TokenSettings {
            signing_key_pem: Some(Secret::new(old.clone())),
            ..TokenSettings::default()
        })
        .expect("keys");
        let rotated = SigningKeys::from_settings(&TokenSettings {
            signing_key_pem: Some(Secret::new(new)),
            previous_signing_key_pem: Some(Secret::new(old)),
            ..TokenSettings::default()
        })
        .expect("keys");
        assert_eq!(rotated.jwks().len(), 2);
        assert_eq!(rotated.jwks()[1].kid, before.jwks()[0].kid);

        let verifier = TokenVerifier::new(&auth, KeySource::Local(rotated.jwks()));
        let user = UserId::parse(42).expect("id");
        let (signed_before, _) = before.mint(user, &auth, 60).expect("mint");
        let (signed_after, _) = rotated.mint(user, &auth, 60).expect("mint");
        for token in [signed_before, signed_after] {
            assert_eq!(verifier.verify(&token).await.expect("valid").user_id, 42);
        }
    }

    #[test]
    fn a_bad_pem_is_named() {
        let error = SigningKeys::from_settings(&TokenSettings {
            signing_key_pem: Some(Secret::new("not a key")),
            ..TokenSettings::default()
        })
        .err()
        .expect("invalid");
        assert!(error.to_string().contains("signing_key_pem"));
    }
}
