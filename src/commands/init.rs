//! `fulfil init`: a new data directory with a config, a database key and the
//! encrypted database. Existing files are never overwritten.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use crate::commands::Outcome;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::store::{self, DbKey, Mode, Store};

const TEMPLATE: &str = include_str!("../../config.example.toml");

/// Create a data directory with a config, a new database key and the encrypted database
///
/// The directory is made with mode 0700, the key (256 bits from the system's random
/// generator, as 64 hex characters) with mode 0600. Existing files are kept.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory [default: the --config file's directory, else ~/.local/share/fulfil]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Write a config pointed at a running `fulfil sandbox serve` (test credentials,
    /// a sample seller and sender address)
    #[arg(long, value_name = "URL")]
    pub sandbox: Option<String>,
}

pub fn run(ctx: &Ctx, args: &InitArgs) -> anyhow::Result<Outcome> {
    let dir = match (&args.dir, &ctx.global.config) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => c
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        (None, None) => crate::config::default_dir(),
    };
    let config_path = match (&args.dir, &ctx.global.config) {
        (None, Some(c)) => c.clone(),
        _ => dir.join("fulfil.toml"),
    };
    let key_path = dir.join("db.key");
    let db_path = dir.join("fulfil.db");
    if db_path.exists() && !key_path.exists() {
        return Err(AppError::config(format!(
            "{} exists but its key {} does not",
            db_path.display(),
            key_path.display()
        ))
        .hint("restore db.key from your backup; init never replaces a database")
        .into());
    }

    let mut made = Vec::new();
    let mut kept = Vec::new();
    if dir.exists() {
        kept.push(dir.clone());
    } else {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        made.push(dir.clone());
    }

    if config_path.exists() {
        kept.push(config_path.clone());
    } else {
        let text = match &args.sandbox {
            Some(url) => sandbox_config(url)?,
            None => TEMPLATE.to_string(),
        };
        write_new(&config_path, text.as_bytes())?;
        made.push(config_path.clone());
    }

    let key = if key_path.exists() {
        kept.push(key_path.clone());
        store::check_key_file(&key_path)?;
        let text = std::fs::read_to_string(&key_path)?;
        DbKey::parse(&secrecy::SecretString::from(text))?
    } else {
        let key = DbKey::generate()?;
        store::write_key_file(&key_path, &key)
            .with_context(|| format!("cannot write {}", key_path.display()))?;
        made.push(key_path.clone());
        key
    };

    if db_path.exists() {
        kept.push(db_path.clone());
        // Prove that the kept key opens the kept database.
        Store::open(&db_path, &key, Mode::Read)?;
    } else {
        let mut s = Store::open(&db_path, &key, Mode::Create)?;
        made.push(db_path.clone());
        // The log's first entry: the database exists from here on.
        s.append_audit(&store::audit::NewEntry {
            at: &crate::clock::rfc3339(ctx.clock.now()),
            command: "init",
            outcome: "ok",
            summary: &json!({ "created": made.len() }),
        })?;
    }

    if !ctx.global.json {
        for p in &made {
            ctx.ui.out(&format!("created {}", p.display()));
        }
        for p in &kept {
            ctx.ui.out(&format!("kept    {}", p.display()));
        }
        ctx.ui.out(&format!(
            "next: fill in {} (credentials, marketplaces, roles), then run \
             `fulfil --config {} status`",
            config_path.display(),
            config_path.display()
        ));
    }
    Ok(Outcome::ok(json!({
        "created": made.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "kept": kept.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "config": config_path.display().to_string(),
    })))
}

/// A config for the local sandbox: its endpoints, its test credentials, a sample seller.
pub fn sandbox_config(url: &str) -> anyhow::Result<String> {
    use crate::sandbox::creds;
    let url = url.trim_end_matches('/');
    crate::transport::check_endpoint(url)?;
    Ok(format!(
        r#"# fulfil configuration for the local sandbox at {url}.
# Test credentials and synthetic data only: nothing here reaches Amazon or PostNL.

[store]
database = "fulfil.db"
key_file = "db.key"

[amazon]
endpoint = "{url}"
lwa_endpoint = "{url}/auth/o2/token"
client_id = "{client_id}"
client_secret = "{client_secret}"
refresh_token = "{refresh_token}"
# Amazon.nl, .de, .be, .fr, .it, .es, .se, .pl
marketplaces = ["A1805IZSGTT6HS", "A1PA6795UKMFR9", "AMEN7PMS3EDWL", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS", "A2NODRKZP88ZB9", "A1C3SOZRARQ6R3"]
roles = ["direct-to-consumer-shipping", "tax-invoicing"]
retry_base_ms = 50

[postnl]
endpoint = "{url}"
api_key = "{postnl_key}"
customer_code = "DEVC"
customer_number = "11223344"
collection_location = "123456"
retry_base_ms = 50

[seller]
company = "Voorbeeld Webwinkel B.V."
vat_id = "{seller_vat}"
street = "Voorbeeldweg"
house_nr = "10"
zipcode = "3511AB"
city = "Utrecht"
country = "NL"
email = "orders@voorbeeld-webwinkel.example"
kvk = "12345678"

[invoices]
# The sandbox serves synthetic EUR reference rates (never real ECB figures).
ecb_endpoint = "{url}/_ecb/rates"
# The sandbox's VIES: confirms the generated buyers' VAT numbers, with a few invalid ones.
vies_endpoint = "{url}/taxation_customs/vies/rest-api"

# The sandbox's products with a reduced rate: books and food.
[invoices.tax_categories]
FLX-BOOK-NL-01 = "books"
FLX-BOOK-EN-02 = "books"
FLX-TEA-20 = "reduced"
FLX-COF-500 = "reduced"

# Food rates the built-in table leaves to configuration (they are item-specific there).
[[invoices.extra_rates]]
country = "IT"
category = "reduced"
rate = 10
valid_from = 2021-07-01

[[invoices.extra_rates]]
country = "ES"
category = "reduced"
rate = 10
valid_from = 2021-07-01

[rates]
# The sandbox's TEDB: the built-in rates, continued past their horizon, with one seeded
# change (BE standard 21 -> 22 % on 2028-02-15) (never the Commission's real figures).
tedb_endpoint = "{url}/_tedb/ws/VatRetrievalService"

[retention]
fulfilled_days = 30
cancelled_days = 7
"#,
        client_id = creds::LWA_CLIENT_ID,
        client_secret = creds::LWA_CLIENT_SECRET,
        refresh_token = creds::REFRESH_TOKEN,
        postnl_key = creds::POSTNL_API_KEY,
        seller_vat = creds::SELLER_VAT,
    ))
}

/// Writes a new file with mode 0600; fails if it exists.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
