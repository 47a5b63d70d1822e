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
    #[error(
        "tokens.signing_key_pem is required (XIR_TOKENS__SIGNING_KEY_PEM: an Ed25519 key in \
         PKCS#8 PEM, e.g. from `openssl genpkey -algorithm ed25519`); for development only, \
         tokens.generate_development_key = true makes a throwaway one"
    )]
    Missing,
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
            None if settings.generate_development_key => {
                tracing::warn!(
                    "tokens.generate_development_key is on: generated a throwaway signing key; \
                     tokens will not verify after a restart or on other replicas"
                );
                SigningKey::from_bytes(&rand::random())
            }
            None => return Err(KeyError::Missing),
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

    /// A keyless svc-auth used to generate its own key silently: with two replicas, about half
    /// of all tokens failed on the other services.
    #[test]
    fn no_key_is_refused_unless_the_development_switch_is_on() {
        let error = SigningKeys::from_settings(&TokenSettings::default())
            .err()
            .expect("refused without a key");
        assert!(
            error
                .to_string()
                .contains("tokens.signing_key_pem is required"),
            "{error}"
        );
        assert!(
            SigningKeys::from_settings(&TokenSettings {
                generate_development_key: true,
                ..TokenSettings::default()
            })
            .is_ok()
        );
    }

    /// The chart's development Secret carries a key (Helm's genPrivateKey "ed25519") that
    /// svc-auth accepts, so every replica of a default install signs with the same one.
    #[test]
    fn the_key_the_chart_generates_is_one_svc_auth_accepts() {
        let helm = std::env::var("XIR_TEST_HELM")
            .expect("XIR_TEST_HELM is not set: run the tests through scripts/test");
        let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/../helm/xir");
        let rendered = std::process::Command::new(helm)
            .args([
                "template",
                "xir",
                chart,
                "--namespace",
                "xir",
                "--kube-version",
                "1.33.0",
            ])
            .output()
            .expect("helm runs");
        assert!(
            rendered.status.success(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let rendered = String::from_utf8(rendered.stdout).expect("UTF-8");
        let encoded = rendered
            .lines()
            .find_map(|line| line.trim().strip_prefix("signing-key-pem: "))
            .expect("the chart's Secret has signing-key-pem");
        let pem = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .expect("base64"),
        )
        .expect("PEM text");
        SigningKeys::from_settings(&TokenSettings {
            signing_key_pem: Some(Secret::new(pem)),
            ..TokenSettings::default()
        })
        .expect("svc-auth accepts the chart's key");
    }
}
