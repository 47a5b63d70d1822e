//! Login throttling: after too many failures within a window, attempts answer
//! ResourceExhausted until the oldest counted failure ages out.
//!
//! What is counted decides who can be locked out. Failures count per account *and* client
//! address (5 by default), so an attacker guessing from one address locks out that address
//! only and the account's owner still logs in from anywhere else; and per address across
//! accounts (50), so one address cannot spray guesses over many accounts.
//!
//! Each attempt claims its place before the password is checked, so parallel attempts see
//! each other and no more of them get a guess than the limit allows; a successful attempt
//! gives its claim back.

use sqlx::PgPool;

use crate::config::ThrottleSettings;

/// A subject failures are counted for, with its limit.
pub struct Subject {
    pub key: String,
    pub limit: i64,
}

impl Subject {
    /// One account tried from one client address.
    pub fn account_from(
        account: impl std::fmt::Display,
        address: &str,
        settings: &ThrottleSettings,
    ) -> Self {
        Subject {
            key: format!("account:{account}@{address}"),
            limit: settings.max_failures_per_account,
        }
    }

    /// Password changes of one (signed-in) account.
    pub fn password_change(account: impl std::fmt::Display, settings: &ThrottleSettings) -> Self {
        Subject {
            key: format!("password-change:{account}"),
            limit: settings.max_failures_per_account,
        }
    }

    pub fn address(address: &str, settings: &ThrottleSettings) -> Self {
        Subject {
            key: format!("address:{address}"),
            limit: settings.max_failures_per_address,
        }
    }
}

/// The places one attempt claimed: they stay as failures unless [`Attempt::succeeded`].
#[must_use = "an attempt is a failure unless it is marked as succeeded"]
pub struct Attempt {
    claimed: Vec<i64>,
}

/// Claims a place for one attempt under every subject, or says in how many seconds the first
/// subject over its limit will be under it again (claiming nothing).
pub async fn claim(
    pool: &PgPool,
    subjects: &[Subject],
    settings: &ThrottleSettings,
) -> sqlx::Result<Result<Attempt, u64>> {
    let mut claimed = Vec::with_capacity(subjects.len());
    for subject in subjects {
        let id: i64 =
            sqlx::query_scalar("INSERT INTO login_failures (subject) VALUES ($1) RETURNING id")
                .bind(&subject.key)
                .fetch_one(pool)
                .await?;
        claimed.push(id);
        // Keep each subject's rows to its window.
        sqlx::query("DELETE FROM login_failures WHERE subject = $1 AND failed_at < now() - make_interval(secs => $2)")
            .bind(&subject.key)
            .bind(settings.window_secs as f64)
            .execute(pool)
            .await?;
    }
    if let Some(wait) = retry_after(pool, subjects, settings).await? {
        give_back(pool, &claimed).await?;
        return Ok(Err(wait));
    }
    Ok(Ok(Attempt { claimed }))
}

impl Attempt {
    /// The password was right: the claims are given back, and `forgiven`'s earlier failures
    /// (the account from this address) are forgotten.
    pub async fn succeeded(self, pool: &PgPool, forgiven: &Subject) -> sqlx::Result<()> {
        give_back(pool, &self.claimed).await?;
        sqlx::query("DELETE FROM login_failures WHERE subject = $1")
            .bind(&forgiven.key)
            .execute(pool)
            .await?;
        Ok(())
    }
}

impl Attempt {
    /// The password could not be checked (the server was busy, hashing failed): not a guess,
    /// so not a failure.
    pub async fn abandon(self, pool: &PgPool) -> sqlx::Result<()> {
        give_back(pool, &self.claimed).await
    }
}

async fn give_back(pool: &PgPool, claimed: &[i64]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE id = ANY($1)")
        .bind(claimed)
        .execute(pool)
        .await?;
    Ok(())
}

/// Seconds until every subject is back within its limit (its own claims included); `None`
/// when none is over it.
async fn retry_after(
    pool: &PgPool,
    subjects: &[Subject],
    settings: &ThrottleSettings,
) -> sqlx::Result<Option<u64>> {
    let mut wait: Option<u64> = None;
    for subject in subjects {
        // Over the limit when a (limit+1)-th row exists in the window: once it ages out, the
        // subject is within its limit again.
        let seconds: Option<f64> = sqlx::query_scalar(
            "SELECT EXTRACT(EPOCH FROM failed_at + make_interval(secs => $3) - now())::float8
             FROM login_failures
             WHERE subject = $1 AND failed_at > now() - make_interval(secs => $3)
             ORDER BY failed_at DESC OFFSET $2 LIMIT 1",
        )
        .bind(&subject.key)
        .bind(subject.limit.max(1))
        .bind(settings.window_secs as f64)
        .fetch_optional(pool)
        .await?;
        if let Some(seconds) = seconds {
            let seconds = seconds.ceil().max(1.0) as u64;
            wait = Some(wait.map_or(seconds, |w| w.max(seconds)));
        }
    }
    Ok(wait)
}
