//! The run's one PostNL client: the label calls of [`super::batch`] and the postal-code
//! checks of [`super::postcode`] share it, and with it PostNL's calls per minute
//! (issue #18).

use secrecy::SecretString;

use crate::config::Config;
use crate::ctx::Ctx;
use crate::postnl as pn;

/// The run's PostNL client: the label calls and the postal-code checks share it, and
/// with it PostNL's calls per minute.
pub fn postnl_client<'a>(ctx: &'a Ctx, cfg: &Config) -> anyhow::Result<pn::Client<'a>> {
    let key: SecretString = cfg.resolve_secret(&cfg.postnl.api_key())?;
    let client = pn::Client::new(
        ctx.http()?,
        &cfg.postnl.base_url(),
        key,
        crate::transport::RetryPolicy {
            max_tries: cfg.postnl.max_tries,
            base: std::time::Duration::from_millis(cfg.postnl.retry_base_ms),
            cap: std::time::Duration::from_secs(120),
        },
        &ctx.clock,
    )?;
    Ok(match cfg.postnl.calls_per_minute {
        Some(n) => client.with_pacing(n),
        None => client,
    })
}
