//! Login throttling: after too many failures for one account or one client address within a
//! window, logins for it answer ResourceExhausted until the oldest counted failure ages out.
//! Other accounts and addresses are unaffected.

use sqlx::PgPool;

use crate::config::ThrottleSettings;

/// A subject failures are counted for, with its limit.
pub struct Subject {
    pub key: String,
    pub limit: i64,
}

impl Subject {
    pub fn account(key: impl std::fmt::Display, settings: &ThrottleSettings) -> Self {
        Subject {
            key: format!("account:{key}"),
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

/// Seconds until every subject is under its limit again; `None` when none is over it.
pub async fn retry_after(
    pool: &PgPool,
    subjects: &[Subject],
    settings: &ThrottleSettings,
) -> sqlx::Result<Option<u64>> {
    let mut wait: Option<u64> = None;
    for subject in subjects {
        // The limit-th most recent failure in the window: once it ages out, the subject is
        // under the limit again.
        let seconds: Option<f64> = sqlx::query_scalar(
            "SELECT EXTRACT(EPOCH FROM failed_at + make_interval(secs => $3) - now())::float8
             FROM login_failures
             WHERE subject = $1 AND failed_at > now() - make_interval(secs => $3)
             ORDER BY failed_at DESC OFFSET $2 - 1 LIMIT 1",
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

pub async fn record_failure(
    pool: &PgPool,
    subjects: &[Subject],
    settings: &ThrottleSettings,
) -> sqlx::Result<()> {
    for subject in subjects {
        sqlx::query("INSERT INTO login_failures (subject) VALUES ($1)")
            .bind(&subject.key)
            .execute(pool)
            .await?;
        // Keep each subject's rows to its window.
        sqlx::query("DELETE FROM login_failures WHERE subject = $1 AND failed_at < now() - make_interval(secs => $2)")
            .bind(&subject.key)
            .bind(settings.window_secs as f64)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// A successful login forgives the account's failures (not the address's).
pub async fn clear(pool: &PgPool, subject: &Subject) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE subject = $1")
        .bind(&subject.key)
        .execute(pool)
        .await?;
    Ok(())
}
