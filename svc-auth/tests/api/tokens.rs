//! Forged, tampered and misaddressed access tokens are refused by another service.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tonic::Code;
use xir_common::auth::Claims;
use xir_proto::{
    auth::v1::{GetJwksRequest, Jwk},
    user::v1::UpdateProfileRequest,
};

use crate::helpers::{TestStack, bearer, spawn_stack};

fn claims(user_id: i64) -> Claims {
    let now = chrono::Utc::now().timestamp() as u64;
    Claims {
        iss: "xir-auth".into(),
        aud: "xir".into(),
        sub: user_id.to_string(),
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: uuid::Uuid::new_v4().to_string(),
    }
}

fn sign(claims: &Claims, algorithm: Algorithm, kid: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

fn ed_key(pem: &str) -> EncodingKey {
    use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).expect("pem");
    EncodingKey::from_ed_der(key.to_pkcs8_der().expect("der").as_bytes())
}

async fn update_with(stack: &TestStack, token: &str) -> Result<(), tonic::Status> {
    stack
        .users()
        .await
        .update_profile(bearer(
            token,
            UpdateProfileRequest {
                bio: Some("forged?".into()),
                display_name: None,
            },
        ))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn every_forged_or_misaddressed_token_is_unauthenticated() {
    let stack = spawn_stack().await;
    let user_id = stack.sign_up("target").await.user_id;
    stack.wait_for_profile(user_id).await;
    let jwks = stack
        .auth()
        .await
        .get_jwks(GetJwksRequest {})
        .await
        .expect("jwks")
        .into_inner()
        .keys;
    assert_eq!(jwks.len(), 1);
    let jwk = &jwks[0];
    assert_eq!(
        (
            jwk.kty.as_str(),
            jwk.crv.as_str(),
            jwk.alg.as_str(),
            jwk.r#use.as_str()
        ),
        ("OKP", "Ed25519", "EdDSA", "sig")
    );
    let real_key = ed_key(&stack.signing_key_pem);

    let genuine = sign(&claims(user_id), Algorithm::EdDSA, &jwk.kid, &real_key);
    update_with(&stack, &genuine)
        .await
        .expect("a token signed with the real key and right claims works");

    let mut cases = forged_signatures(&genuine, jwk, user_id);
    cases.extend(wrong_claims(jwk, &real_key, user_id));
    cases.push(("not a JWT", "garbage".to_owned()));
    for (case, token) in cases {
        let error = update_with(&stack, &token).await.expect_err(case);
        assert_eq!(error.code(), Code::Unauthenticated, "{case}: {error:?}");
    }
}

/// Tokens whose signature is not svc-auth's: tampered, unsigned, HMAC keyed with the public
/// key, or signed with another key (under a known or an unknown key id).
fn forged_signatures(genuine: &str, jwk: &Jwk, user_id: i64) -> Vec<(&'static str, String)> {
    let tampered = {
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        let mut signature = URL_SAFE_NO_PAD.decode(&parts[2]).expect("b64");
        signature[0] ^= 0x01;
        parts[2] = URL_SAFE_NO_PAD.encode(signature);
        parts.join(".")
    };
    let alg_none = {
        let header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            jwk.kid
        ));
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(user_id)).expect("json"));
        format!("{header}.{payload}.")
    };
    let public_key = URL_SAFE_NO_PAD.decode(&jwk.x).expect("b64");
    let hs256_with_public_key = sign(
        &claims(user_id),
        Algorithm::HS256,
        &jwk.kid,
        &EncodingKey::from_secret(&public_key),
    );
    let hs256_with_public_text = sign(
        &claims(user_id),
        Algorithm::HS256,
        &jwk.kid,
        &EncodingKey::from_secret(jwk.x.as_bytes()),
    );
    let other_key = ed_key(&svc_auth::keys::generate_pem().expect("pem"));
    let unknown_kid = sign(
        &claims(user_id),
        Algorithm::EdDSA,
        "unknown-kid",
        &other_key,
    );
    let known_kid_wrong_key = sign(&claims(user_id), Algorithm::EdDSA, &jwk.kid, &other_key);

    vec![
        ("tampered signature", tampered),
        ("alg none", alg_none),
        (
            "HS256 keyed with the public key bytes",
            hs256_with_public_key,
        ),
        (
            "HS256 keyed with the public key text",
            hs256_with_public_text,
        ),
        ("unknown kid", unknown_kid),
        ("known kid, other key", known_kid_wrong_key),
    ]
}

/// Tokens signed with the real key whose claims are wrong: expired, not yet valid, for
/// another audience, from another issuer.
fn wrong_claims(jwk: &Jwk, real_key: &EncodingKey, user_id: i64) -> Vec<(&'static str, String)> {
    let expired = sign(
        &Claims {
            exp: claims(user_id).iat - 3600,
            nbf: claims(user_id).iat - 7200,
            ..claims(user_id)
        },
        Algorithm::EdDSA,
        &jwk.kid,
        real_key,
    );
    let not_yet_valid = sign(
        &Claims {
            nbf: claims(user_id).iat + 3600,
            exp: claims(user_id).iat + 7200,
            ..claims(user_id)
        },
        Algorithm::EdDSA,
        &jwk.kid,
        real_key,
    );
    let wrong_audience = sign(
        &Claims {
            aud: "someone-else".into(),
            ..claims(user_id)
        },
        Algorithm::EdDSA,
        &jwk.kid,
        real_key,
    );
    let wrong_issuer = sign(
        &Claims {
            iss: "evil-auth".into(),
            ..claims(user_id)
        },
        Algorithm::EdDSA,
        &jwk.kid,
        real_key,
    );
    vec![
        ("expired", expired),
        ("not yet valid", not_yet_valid),
        ("wrong aud", wrong_audience),
        ("wrong iss", wrong_issuer),
    ]
}
