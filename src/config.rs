//! The configuration: a TOML file, overridden by `FULFIL_<SECTION>_<KEY>` variables.
//!
//! Unknown keys are rejected, in the file and in the environment, so that a typo
//! never silently turns a setting off. Every error names the file (or the variable)
//! and the key. Relative paths are taken relative to the directory of the file.
//!
//! Secrets (LWA client id and secret, refresh token, PostNL API key, database key) can
//! be given as `name = "value"`, `name_file = "path"` or `name_command = "cmd"` (its
//! stdout is the secret, so that it can live in a secret manager). They are never
//! command-line flags, are held in `secrecy` types and resolved only when used.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use time::Date;

use crate::error::{Classify, Exit};
use crate::trust;

/// A configuration problem: which file or variable, which key, what is wrong.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub source: String,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn new(source: impl Into<String>, key: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            key: key.map(str::to_string),
            message: message.into(),
            hint: None,
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(k) => write!(f, "{}: key `{k}`: {}", self.source, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Classify for ConfigError {
    fn exit(&self) -> Exit {
        Exit::Config
    }
    fn hints(&self) -> Vec<String> {
        self.hint.iter().cloned().collect()
    }
}

/// The whole configuration after loading.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub amazon: AmazonSection,
    #[serde(default)]
    pub postnl: PostnlSection,
    #[serde(default)]
    pub seller: SellerSection,
    #[serde(default)]
    pub retention: RetentionSection,
    #[serde(default)]
    pub labels: LabelsSection,
    #[serde(default)]
    pub invoices: InvoicesSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub secrets: SecretsSection,
    #[serde(default)]
    pub rates: RatesSection,
    #[serde(default)]
    pub alerts: AlertsSection,
    /// The file this came from.
    #[serde(skip)]
    pub path: PathBuf,
    /// Owner and mode of the file as it was read (from the open file, so that a file
    /// swapped after reading cannot pass for it); see [`Config::check_trusted`].
    #[serde(skip)]
    pub file_meta: Option<std::fs::Metadata>,
}

/// A secret value read from the file; never printed.
#[derive(Clone)]
pub struct SecretText(pub SecretString);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[secret]")
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self(SecretString::from(s)))
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone, Default)]
pub struct SecretSpec {
    pub name: &'static str,
    pub value: Option<SecretText>,
    pub file: Option<PathBuf>,
    pub command: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Directory for the database, labels and invoices (default: the config file's directory).
    pub dir: Option<PathBuf>,
    #[serde(default = "default_db")]
    pub database: PathBuf,
    pub key: Option<SecretText>,
    pub key_file: Option<PathBuf>,
    pub key_command: Option<String>,
}

fn default_db() -> PathBuf {
    PathBuf::from("fulfil.db")
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            dir: None,
            database: default_db(),
            key: None,
            key_file: None,
            key_command: None,
        }
    }
}

/// The SP-API regions; `custom` endpoints come from `endpoint` and `lwa_endpoint`.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    #[default]
    Eu,
    Na,
    Fe,
}

/// The restricted roles a seller can grant the app (Seller Central names).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    DirectToConsumerShipping,
    TaxInvoicing,
    TaxRemittance,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FulfilledBy {
    Merchant,
    Amazon,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonSection {
    #[serde(default)]
    pub region: Region,
    /// Overrides the region's SP-API endpoint (sandbox or custom).
    pub endpoint: Option<String>,
    /// Overrides the LWA token endpoint.
    pub lwa_endpoint: Option<String>,
    pub client_id: Option<SecretText>,
    pub client_id_file: Option<PathBuf>,
    pub client_id_command: Option<String>,
    pub client_secret: Option<SecretText>,
    pub client_secret_file: Option<PathBuf>,
    pub client_secret_command: Option<String>,
    /// When the LWA client secret was last rotated (it expires after 180 days).
    pub client_secret_rotated: Option<toml::value::Datetime>,
    pub refresh_token: Option<SecretText>,
    pub refresh_token_file: Option<PathBuf>,
    pub refresh_token_command: Option<String>,
    /// Marketplace ids to sync (default: Amazon.nl).
    #[serde(default = "default_marketplaces")]
    pub marketplaces: Vec<String>,
    /// The restricted roles the seller granted this app.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Which fulfilment channels to sync (default: MERCHANT only).
    #[serde(default = "default_fulfilled_by")]
    pub fulfilled_by: Vec<FulfilledBy>,
    /// Seconds of overlap when resuming from the checkpoint.
    #[serde(default = "default_overlap")]
    pub sync_overlap_seconds: u32,
    /// How far back the very first sync reaches, in days.
    #[serde(default = "default_first_days")]
    pub first_sync_days: u32,
    /// Tries for a call that fails temporarily (5xx, network) before the run gives up (exit 4).
    #[serde(default = "default_max_tries")]
    pub max_tries: u32,
    /// First back-off after a temporary failure, in milliseconds; doubles per try.
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
}

fn default_max_tries() -> u32 {
    5
}
fn default_retry_base_ms() -> u64 {
    1000
}

fn default_marketplaces() -> Vec<String> {
    vec!["A1805IZSGTT6HS".into()]
}
fn default_fulfilled_by() -> Vec<FulfilledBy> {
    vec![FulfilledBy::Merchant]
}
fn default_overlap() -> u32 {
    300
}
fn default_first_days() -> u32 {
    14
}

impl Default for AmazonSection {
    fn default() -> Self {
        Self {
            region: Region::Eu,
            endpoint: None,
            lwa_endpoint: None,
            client_id: None,
            client_id_file: None,
            client_id_command: None,
            client_secret: None,
            client_secret_file: None,
            client_secret_command: None,
            client_secret_rotated: None,
            refresh_token: None,
            refresh_token_file: None,
            refresh_token_command: None,
            marketplaces: default_marketplaces(),
            roles: Vec::new(),
            fulfilled_by: default_fulfilled_by(),
            sync_overlap_seconds: default_overlap(),
            first_sync_days: default_first_days(),
            max_tries: default_max_tries(),
            retry_base_ms: default_retry_base_ms(),
        }
    }
}

impl AmazonSection {
    /// The rotation date of the LWA client secret, if the config gives one as a date.
    pub fn client_secret_rotated_on(&self) -> Option<Date> {
        let d = self.client_secret_rotated.as_ref()?.date?;
        let month = time::Month::try_from(d.month).ok()?;
        Date::from_calendar_date(i32::from(d.year), month, d.day).ok()
    }

    pub fn sp_endpoint(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| {
            match self.region {
                Region::Eu => "https://sellingpartnerapi-eu.amazon.com",
                Region::Na => "https://sellingpartnerapi-na.amazon.com",
                Region::Fe => "https://sellingpartnerapi-fe.amazon.com",
            }
            .to_string()
        })
    }

    pub fn lwa_url(&self) -> String {
        self.lwa_endpoint
            .clone()
            .unwrap_or_else(|| "https://api.amazon.com/auth/o2/token".to_string())
    }

    pub fn client_id(&self) -> SecretSpec {
        spec(
            "amazon.client_id",
            self.client_id.as_ref(),
            self.client_id_file.as_ref(),
            self.client_id_command.as_ref(),
        )
    }
    pub fn client_secret(&self) -> SecretSpec {
        spec(
            "amazon.client_secret",
            self.client_secret.as_ref(),
            self.client_secret_file.as_ref(),
            self.client_secret_command.as_ref(),
        )
    }
    pub fn refresh_token(&self) -> SecretSpec {
        spec(
            "amazon.refresh_token",
            self.refresh_token.as_ref(),
            self.refresh_token_file.as_ref(),
            self.refresh_token_command.as_ref(),
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostnlSection {
    /// Overrides the PostNL endpoint (default: production, `https://api.postnl.nl`).
    pub endpoint: Option<String>,
    pub api_key: Option<SecretText>,
    pub api_key_file: Option<PathBuf>,
    pub api_key_command: Option<String>,
    pub customer_code: Option<String>,
    pub customer_number: Option<String>,
    pub collection_location: Option<String>,
    /// Calls per minute fulfil allows itself (default: PostNL's limit for the endpoint,
    /// 1000 in production, 15 on PostNL's sandbox).
    pub calls_per_minute: Option<u32>,
    /// Tries for a PostNL call that fails temporarily (5xx, network) before the run stops.
    #[serde(default = "default_max_tries")]
    pub max_tries: u32,
    /// First back-off after a temporary PostNL failure, in milliseconds; doubles per try.
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    /// Ask PostNL's postal-code check (Checkout API) which reading of a Dutch address
    /// exists, and whether its street belongs to its postcode (issue #18). PostNL must
    /// have enabled the check on the key.
    #[serde(default)]
    pub postcode_check: bool,
}

impl Default for PostnlSection {
    fn default() -> Self {
        Self {
            endpoint: None,
            api_key: None,
            api_key_file: None,
            api_key_command: None,
            customer_code: None,
            customer_number: None,
            collection_location: None,
            calls_per_minute: None,
            max_tries: default_max_tries(),
            retry_base_ms: default_retry_base_ms(),
            postcode_check: false,
        }
    }
}

impl PostnlSection {
    pub fn base_url(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| "https://api.postnl.nl".to_string())
    }
    pub fn api_key(&self) -> SecretSpec {
        spec(
            "postnl.api_key",
            self.api_key.as_ref(),
            self.api_key_file.as_ref(),
            self.api_key_command.as_ref(),
        )
    }
}

/// The seller: sender address on labels and the supplier block on invoices.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SellerSection {
    pub name: Option<String>,
    pub company: Option<String>,
    pub vat_id: Option<String>,
    pub street: Option<String>,
    pub house_nr: Option<String>,
    pub house_nr_ext: Option<String>,
    pub zipcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    /// The registered legal name printed on invoices (default: `company`, else `name`).
    pub legal_name: Option<String>,
    /// Chamber of Commerce (KvK) number, printed on invoices.
    pub kvk: Option<String>,
    /// The seller's time zone (IANA name, default `Europe/Amsterdam`): the day of a
    /// document's dates, its number series' year and its tax quarter (issue #15).
    pub timezone: Option<String>,
}

impl SellerSection {
    /// The seller's time zone; Europe/Amsterdam unless `seller.timezone` names another.
    ///
    /// # Errors
    /// When the name is not in the built-in IANA database (also refused at load).
    pub fn zone(&self) -> Result<crate::zone::SellerZone, crate::zone::UnknownZone> {
        match &self.timezone {
            Some(name) => crate::zone::SellerZone::named(name),
            None => Ok(crate::zone::SellerZone::amsterdam()),
        }
    }
}

/// How the print file is laid out.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PrintLayout {
    /// One label per A6 page (label printers).
    #[default]
    A6,
    /// Four A6 labels per A4 sheet.
    A4,
}

/// What the labels are made as (issue #19): PDF, or ZPL II for a thermal printer at 203
/// or 300 dpi (PostNL's "200 dpi" and "300 dpi" Zebra printer types).
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LabelFormat {
    /// One A6 PDF page per label (the print file is a PDF).
    #[default]
    Pdf,
    /// ZPL II for an 8 dots/mm (203 dpi) printer.
    #[value(name = "zpl-203")]
    #[serde(rename = "zpl-203")]
    Zpl203,
    /// ZPL II for a 12 dots/mm (300 dpi) printer.
    #[value(name = "zpl-300")]
    #[serde(rename = "zpl-300")]
    Zpl300,
}

impl LabelFormat {
    /// The name used in the config, on the command line and in the store.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LabelFormat::Pdf => "pdf",
            LabelFormat::Zpl203 => "zpl-203",
            LabelFormat::Zpl300 => "zpl-300",
        }
    }

    /// The format stored under [`LabelFormat::as_str`]'s name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [LabelFormat::Pdf, LabelFormat::Zpl203, LabelFormat::Zpl300]
            .into_iter()
            .find(|f| f.as_str() == name)
    }

    /// True for the ZPL formats.
    #[must_use]
    pub fn is_zpl(self) -> bool {
        self != LabelFormat::Pdf
    }

    /// The print file's extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        if self.is_zpl() { "zpl" } else { "pdf" }
    }
}

/// When shipments are confirmed to Amazon.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ConfirmMode {
    /// As soon as the label exists.
    #[default]
    OnLabel,
    /// Only with `fulfil confirm-shipments`.
    Manual,
}

/// PostNL product codes per destination.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductsSection {
    #[serde(default = "p_nl")]
    pub nl: String,
    #[serde(default = "p_nl_letterbox")]
    pub nl_letterbox: String,
    #[serde(default = "p_be")]
    pub be: String,
    #[serde(default = "p_eu")]
    pub eu: String,
}

fn p_nl() -> String {
    "3085".into()
}
fn p_nl_letterbox() -> String {
    "2928".into()
}
fn p_be() -> String {
    "4946".into()
}
fn p_eu() -> String {
    "4907".into()
}

impl Default for ProductsSection {
    fn default() -> Self {
        Self {
            nl: p_nl(),
            nl_letterbox: p_nl_letterbox(),
            be: p_be(),
            eu: p_eu(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsSection {
    /// Where print files go (default: `labels` in the data directory).
    #[serde(default = "default_labels_dir")]
    pub dir: PathBuf,
    #[serde(default)]
    pub layout: PrintLayout,
    /// PDF or ZPL labels (issue #19); ZPL only with the A6 layout.
    #[serde(default)]
    pub format: LabelFormat,
    /// Write a pick list (SKU totals and each order's items) with every print file.
    #[serde(default = "default_true")]
    pub pick_list: bool,
    /// First free position (1-4) on a partly used A4 sheet.
    #[serde(default = "default_a4_start")]
    pub a4_start: u8,
    /// Parcel weight in grams for SKUs not listed under `weights`.
    #[serde(default = "default_weight")]
    pub default_weight_g: u32,
    /// Weight in grams per SKU.
    #[serde(default)]
    pub weights: BTreeMap<String, u32>,
    /// SKUs that fit through a letterbox: an NL order of only these goes as a letterbox parcel.
    #[serde(default)]
    pub letterbox_skus: Vec<String>,
    #[serde(default)]
    pub confirm_shipment: ConfirmMode,
    /// Amazon's carrier code for PostNL; `Other` sends carrierName "PostNL" instead.
    #[serde(default = "default_carrier")]
    pub carrier_code: String,
    /// Share the buyer's e-mail and phone with PostNL for its delivery notifications.
    #[serde(default)]
    pub notify_buyer: bool,
    /// Seconds `--print-command` may take before it (and what it started) is stopped
    /// and the labels stay unprinted; 1 to 86400 (issue #15).
    #[serde(default = "default_print_timeout")]
    pub print_timeout_secs: u64,
    #[serde(default)]
    pub products: ProductsSection,
    /// When an order ships as several parcels (multi-collo, issue #19).
    #[serde(default)]
    pub parcels: ParcelRules,
}

/// `[labels.parcels]`: the rules that split an order into several parcels (PostNL
/// multi-collo, NL and BE only; at most four parcels).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ParcelRules {
    /// Grams one parcel may weigh at most; heavier orders are split.
    #[serde(default)]
    pub max_weight_g: Option<u32>,
    /// SKUs of which every unit ships in a parcel of its own.
    #[serde(default)]
    pub alone: Vec<String>,
    /// SKUs that come in several boxes per unit: SKU = number of boxes (2 to 4).
    #[serde(default)]
    pub boxes: BTreeMap<String, u32>,
}

fn default_labels_dir() -> PathBuf {
    PathBuf::from("labels")
}
fn default_a4_start() -> u8 {
    1
}
fn default_weight() -> u32 {
    1000
}
fn default_carrier() -> String {
    "PostNL".into()
}
fn default_print_timeout() -> u64 {
    300
}

impl Default for LabelsSection {
    fn default() -> Self {
        Self {
            dir: default_labels_dir(),
            layout: PrintLayout::A6,
            format: LabelFormat::Pdf,
            pick_list: true,
            a4_start: default_a4_start(),
            default_weight_g: default_weight(),
            weights: BTreeMap::new(),
            letterbox_skus: Vec::new(),
            confirm_shipment: ConfirmMode::OnLabel,
            carrier_code: default_carrier(),
            notify_buyer: false,
            print_timeout_secs: default_print_timeout(),
            products: ProductsSection::default(),
            parcels: ParcelRules::default(),
        }
    }
}

/// The HTTP client shared by the Amazon, PostNL and exchange-rate calls.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Seconds one request may take, answer included, before it counts as failed (and is
    /// retried like any network error); 1 to 600.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_timeout_secs() -> u64 {
    60
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self {
            timeout_secs: default_timeout_secs(),
        }
    }
}

impl NetworkSection {
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs)
    }
}

/// How secrets given as `*_command` are run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSection {
    /// Seconds a `*_command` may take before it (and what it started) is stopped and
    /// the run fails; 1 to 3600 (issue #15).
    #[serde(default = "default_secret_command_timeout")]
    pub command_timeout_secs: u64,
}

fn default_secret_command_timeout() -> u64 {
    crate::secrets::DEFAULT_COMMAND_TIMEOUT_SECS
}

impl Default for SecretsSection {
    fn default() -> Self {
        Self {
            command_timeout_secs: default_secret_command_timeout(),
        }
    }
}

/// `[rates]`: where `fulfil rates update` asks for VAT rates (issue #14).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatesSection {
    /// The European Commission's TEDB VAT retrieval service (SOAP); default: the
    /// Commission's own endpoint.
    pub tedb_endpoint: Option<String>,
}

impl RatesSection {
    /// The TEDB endpoint in use.
    pub fn tedb_url(&self) -> String {
        self.tedb_endpoint
            .clone()
            .unwrap_or_else(|| crate::tedb::DEFAULT_ENDPOINT.to_owned())
    }
}

/// When a run speaks up about ship-by deadlines (issue #23).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsSection {
    /// Hours before an order's ship-by deadline from which `sync-orders`, `make-labels`
    /// and `confirm-shipments` name it (also under `-q`) and exit 3 while it is not
    /// confirmed to Amazon; 0 names only orders already late.
    #[serde(default = "default_ship_by_hours")]
    pub ship_by_hours: u32,
}

fn default_ship_by_hours() -> u32 {
    4
}

impl Default for AlertsSection {
    fn default() -> Self {
        Self {
            ship_by_hours: default_ship_by_hours(),
        }
    }
}

/// How long personal data is kept; the defaults are the maximum the seller promised.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    /// Days after fulfilment (shipment confirmed) before an order's personal data goes; at most 30.
    #[serde(default = "default_fulfilled_days")]
    pub fulfilled_days: u32,
    /// Days after a cancellation; at most 7.
    #[serde(default = "default_cancelled_days")]
    pub cancelled_days: u32,
    /// Calendar months audit-log entries are kept; at least 13.
    #[serde(default = "default_audit_months")]
    pub audit_months: u32,
}

fn default_audit_months() -> u32 {
    crate::audit::MIN_RETENTION_MONTHS
}

fn default_fulfilled_days() -> u32 {
    30
}
fn default_cancelled_days() -> u32 {
    7
}

impl Default for RetentionSection {
    fn default() -> Self {
        Self {
            fulfilled_days: default_fulfilled_days(),
            cancelled_days: default_cancelled_days(),
            audit_months: default_audit_months(),
        }
    }
}

/// `[invoices]`: numbering, language, VAT options, Amazon upload and exchange rates for
/// `fulfil make-invoices` and `fulfil tax-report` (issue #6).
// Each flag is its own documented config key, as in the TOML.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoicesSection {
    /// Where invoice and credit-note PDFs go (default: `invoices` in the data directory).
    #[serde(default = "default_invoices_dir")]
    pub dir: PathBuf,
    /// Prefix of the invoice series; numbers read PREFIX-YEAR-000123, a new series each year.
    #[serde(default = "default_invoice_prefix")]
    pub prefix: String,
    /// Prefix of the credit-note series (its own series, as VAT_INVOICE.md §5 recommends).
    #[serde(default = "default_credit_note_prefix")]
    pub credit_note_prefix: String,
    /// Language of the documents: `marketplace` (the marketplace's language, issue #17)
    /// or one of en, nl, de, fr, it, es, sv, pl for every document.
    #[serde(default)]
    pub language: DocumentLanguage,
    /// Destination-country VAT through the Union OSS for B2C sales to other member states;
    /// false charges Dutch VAT (only lawful below the EUR 10,000 threshold).
    #[serde(default = "default_true")]
    pub oss: bool,
    /// Upload documents to Amazon (Feeds API, UPLOAD_VAT_INVOICE). False keeps them queued.
    #[serde(default = "default_true")]
    pub upload: bool,
    /// Marketplaces where Amazon takes no invoice uploads (default: Belgium and Ireland).
    #[serde(default = "default_skip_marketplaces")]
    pub skip_marketplaces: Vec<String>,
    /// The seller uses Amazon's VAT Calculation Service: Amazon issues the invoices, so
    /// fulfil never uploads (mixing VCS and own uploads is not allowed).
    #[serde(default)]
    pub vcs: bool,
    /// Tax category per seller SKU: standard (the default), reduced, books, super_reduced, zero.
    #[serde(default)]
    pub tax_categories: BTreeMap<String, crate::invoice::rates::TaxCategory>,
    /// Rates that extend or override the built-in table.
    #[serde(default)]
    pub extra_rates: Vec<RateRow>,
    /// An endpoint answering `GET ?date=YYYY-MM-DD` with `{"date", "rates": {"SEK": …}}`
    /// (EUR reference rates). Needed for SEK, PLN and GBP documents; no default, because
    /// the ECB itself publishes no such JSON.
    pub ecb_endpoint: Option<String>,
    /// The VIES REST API (`POST <endpoint>/check-vat-number`) that confirms a buyer's VAT
    /// number before an invoice is exempt as an intra-Community supply (issue #14).
    /// Default: the Commission's, [`crate::vies::DEFAULT_ENDPOINT`].
    pub vies_endpoint: Option<String>,
    /// Days a VIES answer is reused for the same number (1 to 365).
    #[serde(default = "default_vies_reuse_days")]
    pub vies_reuse_days: u32,
    /// Read the refunds Amazon paid out (Finances API, Finance and Accounting role) and
    /// issue a credit note for each (issue #17). Never with `vcs`.
    #[serde(default = "default_true")]
    pub refunds: bool,
    /// What a refund's credit note sends as `metadata:transactionid`: `refund` (Amazon's
    /// adjustment item id of the refund) or `number` (the credit note's own number).
    #[serde(default)]
    pub credit_note_transaction_id: TransactionIdSource,
}

/// `invoices.language` (issue #17): the marketplace's language, or one for all documents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DocumentLanguage {
    /// Amazon.nl Dutch, .de German, .fr French, .it Italian, .es Spanish, .se Swedish,
    /// .pl Polish, .com.be Dutch or French by postcode, others English.
    #[default]
    Marketplace,
    /// Every document in this language.
    Fixed(crate::invoice::vat::Lang),
}

impl<'de> Deserialize<'de> for DocumentLanguage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().eq_ignore_ascii_case("marketplace") {
            return Ok(DocumentLanguage::Marketplace);
        }
        crate::invoice::vat::Lang::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(
            s.trim(),
        ))
        .map(DocumentLanguage::Fixed)
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "unknown language {s:?}: use marketplace, en, nl, de, fr, it, es, sv or pl"
            ))
        })
    }
}

/// Where the `metadata:transactionid` of a refund's credit note comes from (issue #17).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionIdSource {
    /// The refund's own identifier (its first `OrderAdjustmentItemId`).
    #[default]
    Refund,
    /// The credit note's number.
    Number,
}

/// One configured VAT rate: `rate` percent for `category` in `country`, from `valid_from`
/// to `valid_to` (TOML dates, both inclusive).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRow {
    pub country: String,
    pub category: crate::invoice::rates::TaxCategory,
    pub rate: RateValue,
    pub valid_from: toml::value::Datetime,
    pub valid_to: Option<toml::value::Datetime>,
}

/// A percentage written as a number (`10`, `5.5`) or a string (`"5.5"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RateValue {
    Integer(i64),
    Float(f64),
    Text(String),
}

fn default_invoices_dir() -> PathBuf {
    PathBuf::from("invoices")
}
fn default_invoice_prefix() -> String {
    "INV".into()
}
fn default_credit_note_prefix() -> String {
    "CN".into()
}
fn default_true() -> bool {
    true
}
fn default_vies_reuse_days() -> u32 {
    30
}
fn default_skip_marketplaces() -> Vec<String> {
    // Amazon.com.be and Amazon.ie are not listed for UPLOAD_VAT_INVOICE (NOTES.md §4).
    vec!["AMEN7PMS3EDWL".into(), "A28R8C7NBKEWEA".into()]
}

impl Default for InvoicesSection {
    fn default() -> Self {
        Self {
            dir: default_invoices_dir(),
            prefix: default_invoice_prefix(),
            credit_note_prefix: default_credit_note_prefix(),
            language: DocumentLanguage::Marketplace,
            oss: true,
            upload: true,
            skip_marketplaces: default_skip_marketplaces(),
            vcs: false,
            tax_categories: BTreeMap::new(),
            extra_rates: Vec::new(),
            ecb_endpoint: None,
            vies_endpoint: None,
            vies_reuse_days: default_vies_reuse_days(),
            refunds: true,
            credit_note_transaction_id: TransactionIdSource::Refund,
        }
    }
}

/// A TOML local date (`2021-07-01`, no time part) as a calendar date.
fn toml_date(d: &toml::value::Datetime) -> Option<Date> {
    if d.time.is_some() {
        return None;
    }
    let d = d.date?;
    let month = time::Month::try_from(d.month).ok()?;
    Date::from_calendar_date(i32::from(d.year), month, d.day).ok()
}

impl InvoicesSection {
    /// The VIES REST API to ask (issue #14).
    pub fn vies_endpoint(&self) -> String {
        self.vies_endpoint
            .clone()
            .unwrap_or_else(|| crate::vies::DEFAULT_ENDPOINT.to_string())
    }

    /// The configured rates as rate-table rows.
    pub fn rate_entries(&self) -> Result<Vec<crate::invoice::rates::RateEntry>, String> {
        self.extra_rates
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let rate = match &r.rate {
                    RateValue::Integer(n) => Some(rust_decimal::Decimal::from(*n)),
                    RateValue::Float(f) => f.to_string().parse().ok(),
                    RateValue::Text(t) => t.trim().parse().ok(),
                };
                let rate = rate.ok_or_else(|| format!("row {}: rate is not a number", i + 1))?;
                let valid_from = toml_date(&r.valid_from)
                    .ok_or_else(|| format!("row {}: valid_from must be a date", i + 1))?;
                let valid_to = match &r.valid_to {
                    Some(d) => Some(
                        toml_date(d)
                            .ok_or_else(|| format!("row {}: valid_to must be a date", i + 1))?,
                    ),
                    None => None,
                };
                Ok(crate::invoice::rates::RateEntry {
                    country: r.country.clone(),
                    category: r.category,
                    rate,
                    valid_from,
                    valid_to,
                })
            })
            .collect()
    }

    /// The built-in rate table extended by `extra_rates`.
    pub fn rate_table(&self) -> Result<crate::invoice::rates::RateTable, String> {
        let entries = self.rate_entries()?;
        crate::invoice::rates::RateTable::with_entries(entries).map_err(|e| e.to_string())
    }

    fn check(&self, src: &str) -> Result<(), ConfigError> {
        let series_ok = |p: &str| {
            (1..=8).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        for (key, value) in [
            ("invoices.prefix", &self.prefix),
            ("invoices.credit_note_prefix", &self.credit_note_prefix),
        ] {
            if !series_ok(value) {
                return Err(ConfigError::new(
                    src,
                    Some(key),
                    "must be 1 to 8 capital letters or digits",
                ));
            }
        }
        if !(1..=365).contains(&self.vies_reuse_days) {
            return Err(ConfigError::new(
                src,
                Some("invoices.vies_reuse_days"),
                "must be 1 to 365 days",
            ));
        }
        if self.prefix == self.credit_note_prefix {
            return Err(ConfigError::new(
                src,
                Some("invoices.credit_note_prefix"),
                "must differ from invoices.prefix: credit notes have their own series",
            ));
        }
        self.rate_table().map_err(|e| {
            ConfigError::new(src, Some("invoices.extra_rates"), e)
                .with_hint("a row reads { country = \"IT\", category = \"reduced\", rate = 10, valid_from = 2021-07-01 }")
        })?;
        Ok(())
    }
}

fn spec(
    name: &'static str,
    value: Option<&SecretText>,
    file: Option<&PathBuf>,
    command: Option<&String>,
) -> SecretSpec {
    SecretSpec {
        name,
        value: value.cloned(),
        file: file.cloned(),
        command: command.cloned(),
    }
}

/// Variables with the `FULFIL_` prefix that are not configuration keys.
const RESERVED_ENV: &[&str] = &[
    "FULFIL_CONFIG",
    "FULFIL_LOG",
    "FULFIL_NOW",
    "FULFIL_FAILPOINT",
];
const SECTIONS: &[&str] = &[
    "store",
    "amazon",
    "postnl",
    "seller",
    "retention",
    "labels",
    "invoices",
    "network",
    "secrets",
    "rates",
    "alerts",
];

/// The default data and config directory: `$XDG_DATA_HOME/fulfil` or `~/.local/share/fulfil`.
pub fn default_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("fulfil");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/fulfil")
}

/// The config path: `--config`/`FULFIL_CONFIG`, else `<default_dir>/fulfil.toml`.
pub fn default_path() -> PathBuf {
    default_dir().join("fulfil.toml")
}

impl Config {
    /// Checks that nobody else can change the config file (as it was read) or the data
    /// directory. A data directory that does not exist yet is left to the command.
    pub fn check_trusted(&self) -> Result<(), trust::Untrusted> {
        let me = trust::me();
        if let Some(meta) = &self.file_meta
            && let Some(problem) =
                trust::inspect(meta, trust::Kind::File, trust::Need::Unwritable, me)
        {
            return Err(trust::Untrusted {
                what: "the config file",
                path: self.path.clone(),
                problem,
            });
        }
        let dir = self.data_dir();
        if let Ok(meta) = std::fs::metadata(&dir)
            && let Some(problem) =
                trust::inspect(&meta, trust::Kind::Dir, trust::Need::Unwritable, me)
        {
            return Err(trust::Untrusted {
                what: "the data directory",
                path: dir,
                problem,
            });
        }
        Ok(())
    }

    /// Reads the file, applies the environment, checks the values.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let cfg = Self::load_parts(path)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Like [`Config::load`], but leaves the endpoints' transport rule to the caller
    /// (`fulfil doctor` reports a plain-http endpoint as its own check instead of
    /// refusing the whole file). Commands that connect must use [`Config::load`].
    pub fn load_without_endpoint_check(path: &Path) -> Result<Config, ConfigError> {
        let cfg = Self::load_parts(path)?;
        cfg.validate_values()?;
        Ok(cfg)
    }

    /// Reads the file and applies the environment, without checking the values.
    fn load_parts(path: &Path) -> Result<Config, ConfigError> {
        let src = path.display().to_string();
        let read = || -> std::io::Result<(String, std::fs::Metadata)> {
            use std::io::Read as _;
            let mut f = std::fs::File::open(path)?;
            let meta = f.metadata()?;
            let mut text = String::new();
            f.read_to_string(&mut text)?;
            Ok((text, meta))
        };
        let (text, meta) = read().map_err(|e| {
            let err = ConfigError::new(&src, None, format!("cannot read the config file: {e}"));
            if e.kind() == std::io::ErrorKind::NotFound {
                err.with_hint("run `fulfil init` to create one, or pass --config PATH")
            } else {
                err
            }
        })?;
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("FULFIL_"))
            .collect();
        let mut cfg = Self::parse_parts(path, &text, &env)?;
        cfg.file_meta = Some(meta);
        Ok(cfg)
    }

    /// Parses text plus overrides; separate from `load` so tests need no process env.
    pub fn from_parts(
        path: &Path,
        text: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let cfg = Self::parse_parts(path, text, env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn parse_parts(
        path: &Path,
        text: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let src = path.display().to_string();
        // The file alone first, so that its errors carry its line numbers.
        toml::from_str::<Config>(text).map_err(|e| toml_error(&src, text, &e))?;
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| toml_error(&src, text, &e))?;
        let applied = apply_env(&mut table, env)?;
        let merged = toml::to_string(&table).unwrap_or_default();
        let mut cfg: Config = toml::from_str(&merged).map_err(|e| {
            let mut err = toml_error(&src, &merged, &e);
            // Only an environment value can fail here; name the variable.
            let var = applied
                .iter()
                .find(|(_, key)| err.key.as_deref() == Some(key.as_str()))
                .or(applied.first());
            if let Some((var, _)) = var {
                err.source = format!("environment variable {var}");
            }
            err
        })?;
        cfg.path = path.to_path_buf();
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_values()?;
        self.check_endpoints()
    }

    /// Everything `validate` checks except the endpoints' transport rule.
    fn validate_values(&self) -> Result<(), ConfigError> {
        let src = self.path.display().to_string();
        if let Some(n) = self.postnl.calls_per_minute
            && !(1..=10_000).contains(&n)
        {
            return Err(ConfigError::new(
                &src,
                Some("postnl.calls_per_minute"),
                format!("{n} is outside 1 to 10000"),
            )
            .with_hint("leave it out to use PostNL's limit for the endpoint"));
        }
        if !(1..=600).contains(&self.network.timeout_secs) {
            return Err(ConfigError::new(
                &src,
                Some("network.timeout_secs"),
                format!("{} seconds is outside 1 to 600", self.network.timeout_secs),
            )
            .with_hint("60 (the default) suits Amazon and PostNL"));
        }
        if !(1..=3600).contains(&self.secrets.command_timeout_secs) {
            return Err(ConfigError::new(
                &src,
                Some("secrets.command_timeout_secs"),
                format!(
                    "{} seconds is outside 1 to 3600",
                    self.secrets.command_timeout_secs
                ),
            ));
        }
        if !(1..=86_400).contains(&self.labels.print_timeout_secs) {
            return Err(ConfigError::new(
                &src,
                Some("labels.print_timeout_secs"),
                format!(
                    "{} seconds is outside 1 to 86400",
                    self.labels.print_timeout_secs
                ),
            ));
        }
        if self.alerts.ship_by_hours > 72 {
            return Err(ConfigError::new(
                &src,
                Some("alerts.ship_by_hours"),
                format!("{} hours is outside 0 to 72", self.alerts.ship_by_hours),
            )
            .with_hint("4 (the default) leaves a working afternoon to ship"));
        }
        if self.retention.fulfilled_days > 30 {
            return Err(ConfigError::new(
                &src,
                Some("retention.fulfilled_days"),
                "may not exceed 30: the seller promised removal 30 days after fulfilment",
            ));
        }
        if self.retention.cancelled_days > 7 {
            return Err(ConfigError::new(
                &src,
                Some("retention.cancelled_days"),
                "may not exceed 7 days",
            ));
        }
        if self.retention.audit_months < crate::audit::MIN_RETENTION_MONTHS {
            return Err(ConfigError::new(
                &src,
                Some("retention.audit_months"),
                "may not be less than 13: the audit log is kept at least 13 months",
            ));
        }
        if self.amazon.marketplaces.is_empty() || self.amazon.marketplaces.len() > 50 {
            return Err(ConfigError::new(
                &src,
                Some("amazon.marketplaces"),
                "list between 1 and 50 marketplace ids",
            ));
        }
        if self.amazon.client_secret_rotated.is_some()
            && self.amazon.client_secret_rotated_on().is_none()
        {
            return Err(ConfigError::new(
                &src,
                Some("amazon.client_secret_rotated"),
                "must be a date such as 2026-11-01",
            ));
        }
        if self.labels.format.is_zpl() && self.labels.layout == PrintLayout::A4 {
            return Err(ConfigError::new(
                &src,
                Some("labels.format"),
                "ZPL labels go to a label printer one by one: use labels.layout = \"a6\" with them",
            ));
        }
        if self
            .labels
            .parcels
            .max_weight_g
            .is_some_and(|g| g == 0 || g > 31_500)
        {
            return Err(ConfigError::new(
                &src,
                Some("labels.parcels.max_weight_g"),
                "must be between 1 and 31500 grams",
            ));
        }
        if let Some((sku, _)) = self
            .labels
            .parcels
            .boxes
            .iter()
            .find(|(_, n)| !(2..=4).contains(*n))
        {
            return Err(ConfigError::new(
                &src,
                Some(&format!("labels.parcels.boxes.{sku}")),
                "must be 2 to 4 boxes",
            ));
        }
        if !(1..=4).contains(&self.labels.a4_start) {
            return Err(ConfigError::new(
                &src,
                Some("labels.a4_start"),
                "must be 1 to 4",
            ));
        }
        if self.labels.default_weight_g == 0 || self.labels.default_weight_g > 31_500 {
            return Err(ConfigError::new(
                &src,
                Some("labels.default_weight_g"),
                "must be between 1 and 31500 grams",
            ));
        }
        for (key, tries) in [
            ("amazon.max_tries", self.amazon.max_tries),
            ("postnl.max_tries", self.postnl.max_tries),
        ] {
            if tries == 0 || tries > 20 {
                return Err(ConfigError::new(
                    &src,
                    Some(key),
                    "must be between 1 and 20",
                ));
            }
        }
        if self.amazon.fulfilled_by.is_empty() {
            return Err(ConfigError::new(
                &src,
                Some("amazon.fulfilled_by"),
                "list at least one of MERCHANT, AMAZON",
            ));
        }
        if let Err(e) = self.seller.zone() {
            return Err(ConfigError::new(&src, Some("seller.timezone"), e.to_string())
                .with_hint(
                    "use an IANA time zone name such as Europe/Amsterdam (the default), Europe/Brussels or UTC",
                ));
        }
        self.invoices.check(&src)?;
        Ok(())
    }

    /// The transport rule for every endpoint the file or environment sets.
    fn check_endpoints(&self) -> Result<(), ConfigError> {
        let src = self.path.display().to_string();
        for (key, url) in [
            ("amazon.endpoint", self.amazon.endpoint.as_deref()),
            ("amazon.lwa_endpoint", self.amazon.lwa_endpoint.as_deref()),
            ("postnl.endpoint", self.postnl.endpoint.as_deref()),
            (
                "invoices.ecb_endpoint",
                self.invoices.ecb_endpoint.as_deref(),
            ),
            (
                "invoices.vies_endpoint",
                self.invoices.vies_endpoint.as_deref(),
            ),
            ("rates.tedb_endpoint", self.rates.tedb_endpoint.as_deref()),
        ] {
            if let Some(u) = url {
                crate::transport::check_endpoint(u).map_err(|e| {
                    ConfigError::new(&src, Some(key), e.to_string())
                        .with_hint("use https, or http only for a sandbox on this machine")
                })?;
            }
        }
        Ok(())
    }

    /// Every endpoint fulfil would contact, by config key, defaults included.
    pub fn endpoints(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("amazon.endpoint", self.amazon.sp_endpoint()),
            ("amazon.lwa_endpoint", self.amazon.lwa_url()),
            ("postnl.endpoint", self.postnl.base_url()),
        ];
        if let Some(u) = &self.invoices.ecb_endpoint {
            out.push(("invoices.ecb_endpoint", u.clone()));
        }
        // The default (the Commission's) is not probed: doctor --online names only what
        // this configuration sets.
        if let Some(u) = &self.invoices.vies_endpoint {
            out.push(("invoices.vies_endpoint", u.clone()));
        }
        out.push(("rates.tedb_endpoint", self.rates.tedb_url()));
        out
    }

    /// The directory relative paths are taken from.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    /// Resolves a path from the config against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.data_dir().join(p)
        }
    }

    /// The data directory (`store.dir`, default: the config file's directory).
    pub fn data_dir(&self) -> PathBuf {
        match &self.store.dir {
            Some(d) if d.is_absolute() => d.clone(),
            Some(d) => self.base_dir().join(d),
            None => self.base_dir(),
        }
    }

    pub fn labels_dir(&self) -> PathBuf {
        self.resolve(&self.labels.dir)
    }

    pub fn invoices_dir(&self) -> PathBuf {
        self.resolve(&self.invoices.dir)
    }

    pub fn database_path(&self) -> PathBuf {
        self.resolve(&self.store.database)
    }

    pub fn db_key(&self) -> SecretSpec {
        let file = if self.store.key.is_none() && self.store.key_command.is_none() {
            Some(
                self.store
                    .key_file
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("db.key")),
            )
        } else {
            self.store.key_file.clone()
        };
        SecretSpec {
            name: "store.key",
            value: self.store.key.clone(),
            file: file.map(|f| self.resolve(&f)),
            command: self.store.key_command.clone(),
        }
    }

    pub fn source(&self) -> String {
        self.path.display().to_string()
    }

    /// Resolves a secret; a `*_command` gets `secrets.command_timeout_secs`.
    pub fn resolve_secret(&self, spec: &SecretSpec) -> Result<SecretString, ConfigError> {
        crate::secrets::resolve(
            spec,
            &self.source(),
            std::time::Duration::from_secs(self.secrets.command_timeout_secs),
        )
    }

    /// How long `--print-command` may take.
    pub fn print_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.labels.print_timeout_secs)
    }
}

/// Turns a toml error into one line naming the file, the line and the key.
fn toml_error(src: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let full = e.message().replace('\n', " ");
    // serde lists every valid key after ", expected one of": that goes in a hint.
    let (msg, valid) = match full.split_once(", expected one of ") {
        Some((m, v)) => (m.to_string(), Some(v.to_string())),
        None => (full.clone(), None),
    };
    let mut key = None;
    let mut place = String::new();
    if let Some(span) = e.span() {
        let before = &text[..span.start.min(text.len())];
        let line_no = before.matches('\n').count() + 1;
        place = format!(":{line_no}");
        let line = text.lines().nth(line_no - 1).unwrap_or("");
        let trimmed = line.trim();
        if let Some((k, _)) = trimmed.split_once('=') {
            key = Some(k.trim().trim_matches('"').to_string());
        } else if trimmed.starts_with('[') {
            key = Some(
                trimmed
                    .trim_matches(|c| c == '[' || c == ']')
                    .trim()
                    .to_string(),
            );
        }
    }
    // serde names unknown and missing fields in backquotes; prefer that name.
    if let Some(start) = msg.find('`')
        && let Some(len) = msg[start + 1..].find('`')
    {
        key = Some(msg[start + 1..start + 1 + len].to_string());
    }
    let err = ConfigError::new(format!("{src}{place}"), key.as_deref(), msg);
    match valid {
        Some(v) => err.with_hint(format!("valid keys here: {}", v.replace('`', ""))),
        None => err,
    }
}

/// Applies `FULFIL_<SECTION>_<KEY>` variables to the parsed table; returns (variable, key).
fn apply_env(
    table: &mut toml::Table,
    env: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut applied = Vec::new();
    for (name, raw) in env {
        if RESERVED_ENV.contains(&name.as_str()) || !name.starts_with("FULFIL_") {
            continue;
        }
        let rest = name["FULFIL_".len()..].to_ascii_lowercase();
        let Some(section) = SECTIONS.iter().find(|s| rest.starts_with(&format!("{s}_"))) else {
            return Err(ConfigError::new(
                format!("environment variable {name}"),
                None,
                "not a configuration key",
            )
            .with_hint("use FULFIL_<SECTION>_<KEY>, e.g. FULFIL_AMAZON_REFRESH_TOKEN_FILE"));
        };
        let key = &rest[section.len() + 1..];
        let value = env_value(raw);
        let entry = table
            .entry((*section).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(t) = entry.as_table_mut() else {
            return Err(ConfigError::new(
                format!("environment variable {name}"),
                Some(section),
                "the config file uses this name for a value, not a section",
            ));
        };
        t.insert(key.to_string(), value);
        applied.push((name.clone(), key.to_string()));
    }
    Ok(applied)
}

/// Environment values are strings, unless they read as a TOML number, boolean, date or array.
fn env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    if let Ok(t) = toml::from_str::<toml::Table>(&probe)
        && let Some(v) = t.get("v")
        && matches!(
            v,
            toml::Value::Integer(_)
                | toml::Value::Boolean(_)
                | toml::Value::Array(_)
                | toml::Value::Datetime(_)
        )
    {
        return v.clone();
    }
    toml::Value::String(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Config::from_parts(Path::new("/etc/fulfil/fulfil.toml"), text, &env)
    }

    #[test]
    fn defaults_apply() {
        let c = parse("", &[]).unwrap();
        assert_eq!(c.amazon.marketplaces, vec!["A1805IZSGTT6HS"]);
        assert_eq!(c.retention.fulfilled_days, 30);
        assert_eq!(c.database_path(), PathBuf::from("/etc/fulfil/fulfil.db"));
        assert_eq!(
            c.db_key().file.unwrap(),
            PathBuf::from("/etc/fulfil/db.key")
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = parse("[amazon]\nregion = \"eu\"\nmarketplace = []\n", &[]).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("/etc/fulfil/fulfil.toml:3"), "{s}");
        assert_eq!(e.key.as_deref(), Some("marketplace"));
    }

    #[test]
    fn wrong_type_names_key() {
        let e = parse("[retention]\nfulfilled_days = \"ten\"\n", &[]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("fulfilled_days"), "{e}");
    }

    #[test]
    fn env_overrides_file() {
        let c = parse(
            "[amazon]\nsync_overlap_seconds = 10\n",
            &[
                ("FULFIL_AMAZON_SYNC_OVERLAP_SECONDS", "20"),
                ("FULFIL_AMAZON_MARKETPLACES", "[\"A1PA6795UKMFR9\"]"),
                ("FULFIL_POSTNL_CUSTOMER_NUMBER", "11223344x"),
                ("FULFIL_NOW", "2026-01-01T00:00:00Z"),
            ],
        )
        .unwrap();
        assert_eq!(c.amazon.sync_overlap_seconds, 20);
        assert_eq!(c.amazon.marketplaces, vec!["A1PA6795UKMFR9"]);
        assert_eq!(c.postnl.customer_number.as_deref(), Some("11223344x"));
    }

    #[test]
    fn unknown_env_key_is_named() {
        let e = parse("", &[("FULFIL_AMAZON_CLIENT_SECRTE", "x")]).unwrap_err();
        assert!(e.to_string().contains("FULFIL_AMAZON_CLIENT_SECRTE"), "{e}");
        let e = parse("", &[("FULFIL_BOGUS", "x")]).unwrap_err();
        assert!(e.to_string().contains("FULFIL_BOGUS"), "{e}");
    }

    #[test]
    fn rotation_date_from_file_or_env() {
        let c = parse("[amazon]\nclient_secret_rotated = 2026-06-20\n", &[]).unwrap();
        assert_eq!(
            c.amazon.client_secret_rotated_on(),
            Some(time::macros::date!(2026 - 06 - 20))
        );
        let c = parse("", &[("FULFIL_AMAZON_CLIENT_SECRET_ROTATED", "2026-01-02")]).unwrap();
        assert_eq!(
            c.amazon.client_secret_rotated_on(),
            Some(time::macros::date!(2026 - 01 - 02))
        );
        assert!(parse("[amazon]\nclient_secret_rotated = 10:00:00\n", &[]).is_err());
    }

    #[test]
    fn audit_retention_cannot_be_shortened() {
        let e = parse("[retention]\naudit_months = 12\n", &[]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("retention.audit_months"));
        let c = parse("[retention]\naudit_months = 24\n", &[]).unwrap();
        assert_eq!(c.retention.audit_months, 24);
    }

    #[test]
    fn network_timeout_within_bounds_and_from_the_environment() {
        assert_eq!(parse("", &[]).unwrap().network.timeout_secs, 60);
        for bad in ["0", "601"] {
            let e = parse(&format!("[network]\ntimeout_secs = {bad}\n"), &[]).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("network.timeout_secs"));
        }
        let c = parse("", &[("FULFIL_NETWORK_TIMEOUT_SECS", "5")]).unwrap();
        assert_eq!(c.network.timeout(), std::time::Duration::from_secs(5));
    }

    #[test]
    fn postnl_pacing_is_optional_and_bounded() {
        assert_eq!(parse("", &[]).unwrap().postnl.calls_per_minute, None);
        let c = parse("[postnl]\ncalls_per_minute = 15\n", &[]).unwrap();
        assert_eq!(c.postnl.calls_per_minute, Some(15));
        let e = parse("[postnl]\ncalls_per_minute = 0\n", &[]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("postnl.calls_per_minute"));
    }

    #[test]
    fn retention_cannot_be_lengthened() {
        let e = parse("[retention]\nfulfilled_days = 31\n", &[]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("retention.fulfilled_days"));
    }

    #[test]
    fn plain_http_only_for_loopback() {
        assert!(parse("[amazon]\nendpoint = \"http://127.0.0.1:8080\"\n", &[]).is_ok());
        let e = parse("[amazon]\nendpoint = \"http://example.com\"\n", &[]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("amazon.endpoint"));
    }

    #[test]
    fn doctor_loads_a_plain_http_endpoint_that_commands_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fulfil.toml");
        std::fs::write(
            &path,
            "[invoices]\necb_endpoint = \"http://rates.example.com\"\n",
        )
        .unwrap();
        let e = Config::load(&path).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("invoices.ecb_endpoint"));
        let c = Config::load_without_endpoint_check(&path).unwrap();
        assert!(
            c.endpoints()
                .contains(&("invoices.ecb_endpoint", "http://rates.example.com".into()))
        );
        // Other values are still checked.
        std::fs::write(&path, "[retention]\nfulfilled_days = 40\n").unwrap();
        assert!(Config::load_without_endpoint_check(&path).is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let c = parse("[amazon]\nclient_secret = \"amzn-super-secret\"\n", &[]).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("amzn-super-secret"));
    }
}
