//! argon2id hashing in PHC string format, run on the process's bounded CPU pool (one hash
//! takes tens of milliseconds of CPU and 19 MiB: it must not stall the async workers, and a
//! login flood must not run more of them at once than the pool allows).
//!
//! Each pool thread hashes in one block buffer of its own, reused from hash to hash. Letting
//! argon2 allocate 19 MiB per hash left the allocator holding freed blocks (its large-block
//! threshold grows after the first free): a flood of 200 sign-ups with two hashes running at
//! once took the process to 665 MiB. With the buffers it stays at a buffer per pool thread.

use std::{cell::RefCell, sync::Arc};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{
        self,
        phc::{Output, ParamsString, PasswordHash, Salt},
    },
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
        // On a thread of its own, so that its hashing memory goes when it ends.
        let dummy_hash = std::thread::scope(|scope| {
            scope
                .spawn(|| hash_with_new_salt(&params, &dummy_password))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
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
            .run(move || hash_with_new_salt(&params, password.as_bytes()))
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
                let Ok(parsed) = PasswordHash::new(&stored) else {
                    return Ok(Verdict::Wrong);
                };
                if !matches(&parsed, password.as_bytes()) || !known {
                    return Ok(Verdict::Wrong);
                }
                if is_weaker(&parsed, &params) {
                    let stronger = hash_with_new_salt(&params, password.as_bytes())?;
                    return Ok(Verdict::CorrectRehashed(stronger));
                }
                Ok(Verdict::Correct)
            })
            .await?
    }
}

thread_local! {
    /// This thread's argon2 memory, grown to the largest cost it has hashed with.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 of `password` and `salt` into `out`, in this thread's reused memory.
fn hash_into(hasher: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let needed = hasher.params().block_count();
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        hasher.hash_password_into_with_memory(password, salt, out, &mut blocks[..needed])
    })
}

/// The PHC string of argon2id(`password`) with `params` and a fresh random salt.
fn hash_with_new_salt(params: &Params, password: &[u8]) -> Result<String, HashError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = Salt::new(&salt_bytes).map_err(|error| HashError::Hash(error.into()))?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = &mut buffer[..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    hash_into(&hasher, password, &salt, out).map_err(|error| HashError::Hash(error.into()))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(HashError::Hash)?,
        salt: Some(salt),
        hash: Some(Output::new(out).map_err(|error| HashError::Hash(error.into()))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` hashes to `stored` with `stored`'s own algorithm, version, cost and salt
/// (the comparison is constant-time).
fn matches(stored: &PasswordHash, password: &[u8]) -> bool {
    let check = || -> password_hash::Result<bool> {
        let params = Params::try_from(stored)?;
        let algorithm = Algorithm::try_from(stored.algorithm.as_str())?;
        let version = stored
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|_| password_hash::Error::Version)?
            .unwrap_or_default();
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return Ok(false);
        };
        let hasher = Argon2::new(algorithm, version, params.clone());
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = &mut buffer[..expected.len()];
        hash_into(&hasher, password, salt, out)?;
        Ok(Output::new(out)? == *expected)
    };
    check().unwrap_or(false)
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
