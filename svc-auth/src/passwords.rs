//! argon2id hashing in PHC string format, run on the process's bounded CPU pool (one hash
//! takes tens of milliseconds of CPU and 19 MiB: it must not stall the async workers, and a
//! login flood must not run more of them at once than the pool allows).

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use xir_common::cpu::{Busy, CpuPool};

use crate::config::PasswordSettings;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid argon2 parameters in settings: {0}")]
    Params(argon2::Error),
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error(transparent)]
    Busy(#[from] Busy),
}

/// What checking a password against a stored hash found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    Correct,
    /// Correct, and the stored hash is weaker than the configured parameters: store this one.
    CorrectRehashed(String),
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password, checked when the account does not exist, so an unknown
    /// login costs the same time as a wrong password.
    dummy_hash: Arc<String>,
    cpu: CpuPool,
}

impl Hasher {
    pub fn new(settings: &PasswordSettings, cpu: CpuPool) -> Result<Self, HashError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(HashError::Params)?;
        let dummy_password: [u8; 16] = rand::random();
        let dummy_hash = argon2(&params)
            .hash_password(&dummy_password)
            .map_err(HashError::Hash)?
            .to_string();
        Ok(Self {
            params,
            dummy_hash: Arc::new(dummy_hash),
            cpu,
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = password.to_owned();
        self.cpu
            .run(move || {
                argon2(&params)
                    .hash_password(password.as_bytes())
                    .map(|hash| hash.to_string())
                    .map_err(HashError::Hash)
            })
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when `stored` is `None`
    /// (the answer is then always `Wrong`, after the same work).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verdict, HashError> {
        let params = self.params.clone();
        let password = password.to_owned();
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        self.cpu
            .run(move || {
                let hasher = argon2(&params);
                let Ok(parsed) = PasswordHash::new(&stored) else {
                    return Ok(Verdict::Wrong);
                };
                if hasher
                    .verify_password(password.as_bytes(), &parsed)
                    .is_err()
                    || !known
                {
                    return Ok(Verdict::Wrong);
                }
                if is_weaker(&parsed, &params) {
                    let stronger = hasher
                        .hash_password(password.as_bytes())
                        .map_err(HashError::Hash)?;
                    return Ok(Verdict::CorrectRehashed(stronger.to_string()));
                }
                Ok(Verdict::Correct)
            })
            .await?
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn is_weaker(stored: &PasswordHash, wanted: &Params) -> bool {
    if stored.algorithm.as_str() != Algorithm::Argon2id.as_str() {
        return true;
    }
    match Params::try_from(stored) {
        Ok(params) => {
            params.m_cost() < wanted.m_cost()
                || params.t_cost() < wanted.t_cost()
                || params.p_cost() < wanted.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(memory_kib: u32, iterations: u32) -> Hasher {
        Hasher::new(
            &PasswordSettings {
                memory_kib,
                iterations,
                parallelism: 1,
            },
            CpuPool::new(1, 4),
        )
        .expect("valid params")
    }

    #[tokio::test]
    async fn hashes_verify_and_weaker_hashes_are_upgraded() {
        let strong = hasher(19 * 1024, 2);
        let hash = strong.hash("correct horse").await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            strong
                .verify("correct horse", Some(&hash))
                .await
                .expect("verify"),
            Verdict::Correct
        );
        assert_eq!(
            strong
                .verify("wrong horse", Some(&hash))
                .await
                .expect("verify"),
            Verdict::Wrong
        );
        assert_eq!(
            strong.verify("correct horse", None).await.expect("verify"),
            Verdict::Wrong
        );

        let weak_hash = hasher(8 * 1024, 1)
            .hash("correct horse")
            .await
            .expect("hash");
        match strong
            .verify("correct horse", Some(&weak_hash))
            .await
            .expect("verify")
        {
            Verdict::CorrectRehashed(upgraded) => {
                assert!(upgraded.contains("m=19456,t=2"), "{upgraded}")
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}
