//! Login throttling: after too many failures within a window, attempts answer
//! ResourceExhausted until the oldest counted failure ages out.
//!
//! What is counted decides who can be locked out. Failures count per account *and* client
//! address (5 by default), so an attacker guessing from one address locks out that address
//! only and the account's owner still logs in from anywhere else; and per address across
//! accounts (50), so one address cannot spray guesses over many accounts. Guesses at one
//! account from many addresses (each under its own limits) slow down rather than block: past
//! `slow_down_after` failures in the window from anywhere, each further attempt must wait a
//! gap after the previous failure that doubles with every failure (1 s, 2 s, 4 s, ... up to
//! `max_slow_down_secs`), so the owner waits seconds at worst and a distributed guesser gets
//! a trickle.
//!
//! Each attempt claims its place before the password is checked, so parallel attempts see
//! each other and no more of them get a guess than the limit allows; a successful attempt
//! gives its claim back.

use sqlx::PgPool;

use crate::config::ThrottleSettings;

/// A subject failures are counted for, and what too many of them do.
pub struct Subject {
    pub key: String,
    pub rule: Rule,
}

pub enum Rule {
    /// Refuse attempts while more than this many failures are in the window.
    Limit(i64),
    /// Past `after` failures in the window, make each attempt wait a doubling gap after the
    /// previous failure, at most `max_secs`.
    SlowDown { after: i64, max_secs: u64 },
}

/// The gap an attempt must leave after the previous failure when `failures` (its own claim
/// included) are in the window.
pub fn slow_down_gap_secs(failures: i64, after: i64, max_secs: u64) -> u64 {
    let over = failures - after;
    if over <= 0 {
        return 0;
    }
    let doubled = 1_u64
        .checked_shl((over - 1).min(63) as u32)
        .unwrap_or(u64::MAX);
    doubled.min(max_secs)
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
            rule: Rule::Limit(settings.max_failures_per_account),
        }
    }

    /// One account tried from anywhere: slowed down, never locked.
    pub fn account_anywhere(account: impl std::fmt::Display, settings: &ThrottleSettings) -> Self {
        Subject {
            key: format!("account:{account}"),
            rule: Rule::SlowDown {
                after: settings.slow_down_after,
                max_secs: settings.max_slow_down_secs,
            },
        }
    }

    /// Password changes of one (signed-in) account.
    pub fn password_change(account: impl std::fmt::Display, settings: &ThrottleSettings) -> Self {
        Subject {
            key: format!("password-change:{account}"),
            rule: Rule::Limit(settings.max_failures_per_account),
        }
    }

    pub fn address(address: &str, settings: &ThrottleSettings) -> Self {
        Subject {
            key: format!("address:{address}"),
            rule: Rule::Limit(settings.max_failures_per_address),
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
        let seconds = match subject.rule {
            Rule::Limit(limit) => {
                // Over the limit when a (limit+1)-th row exists in the window: once it ages
                // out, the subject is within its limit again.
                sqlx::query_scalar::<_, f64>(
                    "SELECT EXTRACT(EPOCH FROM failed_at + make_interval(secs => $3) - now())::float8
                     FROM login_failures
                     WHERE subject = $1 AND failed_at > now() - make_interval(secs => $3)
                     ORDER BY failed_at DESC OFFSET $2 LIMIT 1",
                )
                .bind(&subject.key)
                .bind(limit.max(1))
                .bind(settings.window_secs as f64)
                .fetch_optional(pool)
                .await?
            }
            Rule::SlowDown { after, max_secs } => {
                // The failures in the window (this attempt's claim included) and how long ago
                // the one before this attempt's claim was.
                let (failures, since_previous): (i64, Option<f64>) = sqlx::query_as(
                    "SELECT count(*),
                            (SELECT EXTRACT(EPOCH FROM now() - failed_at)::float8
                             FROM login_failures
                             WHERE subject = $1 AND failed_at > now() - make_interval(secs => $2)
                             ORDER BY failed_at DESC, id DESC OFFSET 1 LIMIT 1)
                     FROM login_failures
                     WHERE subject = $1 AND failed_at > now() - make_interval(secs => $2)",
                )
                .bind(&subject.key)
                .bind(settings.window_secs as f64)
                .fetch_one(pool)
                .await?;
                let gap = slow_down_gap_secs(failures, after, max_secs) as f64;
                since_previous
                    .map(|since| gap - since)
                    .filter(|remaining| *remaining > 0.0)
            }
        };
        if let Some(seconds) = seconds {
            let seconds = seconds.ceil().max(1.0) as u64;
            wait = Some(wait.map_or(seconds, |w| w.max(seconds)));
        }
    }
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use super::slow_down_gap_secs;

    #[test]
    fn the_gap_doubles_past_the_threshold_up_to_the_cap() {
        let gaps: Vec<u64> = (9..=18).map(|f| slow_down_gap_secs(f, 10, 60)).collect();
        assert_eq!(gaps, [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(slow_down_gap_secs(10_000, 10, 60), 60, "no overflow");
    }
}
