//! PostNL request and response shapes for Barcode v1_1 and Labelling v2_2, and the
//! small rules that belong to them.
//!
//! This file owns:
//! - the barcode rule: which `Type`/`Range`/`Serie` to ask for per destination and
//!   customer-code length (NOTES §3), and how to check the barcode that comes back;
//! - the label request types, written from `openapi/Labelling.json`, with every piece
//!   of personal data in [`Pii`] (so `Debug` prints `[pii]`) and the checks PostNL would
//!   otherwise make us pay a round trip for (at most four shipments, MessageID length,
//!   receiver present, letterbox needs a DeliveryDate, …);
//! - the Europe/Amsterdam wall-clock rule used for `MessageTimeStamp`;
//! - tolerant response parsing (NOTES §5): lists that arrive as a single object, empty
//!   objects where a value was expected, unknown fields, `Errors` inside an HTTP 200,
//!   error keys in any letter case, and the label content decoded from base64 and
//!   checked to be a PDF.
//!
//! No I/O happens here; `mod.rs` sends and retries.

use std::fmt;

use base64::Engine as _;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, UtcOffset, Weekday};

use super::error::PostnlError;
use crate::logging::Pii;

/// The default printer type: one A6 PDF per label.
pub const PRINTER_PDF: &str = "GraphicFile|PDF";

/// The printer types this client asks for (`Message.Printertype`, NOTES §6): PDF, or ZPL
/// II for a Zebra-compatible thermal printer at 200 or 300 dpi (issue #19). A ZPL label
/// is drawn for one resolution and cannot be converted afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Printer {
    #[default]
    Pdf,
    Zpl200,
    Zpl300,
}

impl Printer {
    /// The `Printertype` string PostNL takes.
    #[must_use]
    pub fn printer_type(self) -> &'static str {
        match self {
            Printer::Pdf => PRINTER_PDF,
            Printer::Zpl200 => "Zebra|Generic ZPL II 200 dpi",
            Printer::Zpl300 => "Zebra|Generic ZPL II 300 dpi",
        }
    }

    /// True for the ZPL printer types.
    #[must_use]
    pub fn is_zpl(self) -> bool {
        self != Printer::Pdf
    }
}
/// Labelling takes at most four shipments in one request.
pub const MAX_SHIPMENTS: usize = 4;
/// `Message.MessageID` is 1–12 characters in the spec.
pub const MAX_MESSAGE_ID: usize = 12;
/// PostNL answers requests over 200 KB with a bare 404, so we refuse them first
/// (counting a kilobyte as 1000 bytes, to stay on the safe side of either reading).
pub const MAX_REQUEST_BYTES: usize = 200_000;

/// Letterbox products: PostNL needs a DeliveryDate to print the coding line.
const LETTERBOX_PRODUCTS: &[&str] = &["2928", "2929", "2948"];

/// EU destinations served with a 13-character 3S barcode: NOTES §7.3's list plus BE,
/// which firstred/postnl-api-php serves with the same (EPS) serie.
const EU_3S_COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "PL", "PT", "RO", "SE", "SI", "SK",
];

// ---------------------------------------------------------------------------------
// Barcodes
// ---------------------------------------------------------------------------------

/// Which kind of 3S barcode a shipment needs; chosen per destination, never once for
/// the whole run (a 15-character barcode on an EU product is rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarcodeKind {
    /// Within the Netherlands: 15 characters.
    Domestic,
    /// Belgium and the rest of the EU (Parcel EU): 13 characters.
    Eu,
}

impl BarcodeKind {
    /// The kind for an ISO 3166 alpha-2 destination; `None` outside NL and the EU
    /// (non-EU needs GlobalPack barcodes and customs, which this client does not do).
    pub fn for_country(countrycode: &str) -> Option<Self> {
        let cc = countrycode.trim().to_ascii_uppercase();
        if cc == "NL" {
            Some(Self::Domestic)
        } else if EU_3S_COUNTRIES.contains(&cc.as_str()) {
            Some(Self::Eu)
        } else {
            None
        }
    }

    /// The query for the Barcode service and the shape of the expected answer.
    ///
    /// Only the combinations in PostNL's guideline table are allowed; anything else
    /// would be a guess that PostNL rejects or, worse, accepts with a wrong length.
    pub fn spec(self, customer_code: &str) -> Result<BarcodeSpec, PostnlError> {
        let code = customer_code.trim();
        if code.is_empty() || code.len() > 4 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(PostnlError::Config(
                "the customer code must be 1 to 4 letters for 3S barcodes",
            ));
        }
        let range = code.to_ascii_uppercase();
        let serie = match (self, range.len()) {
            (Self::Domestic, 4) => "987000000-987600000",
            (Self::Domestic, 2) => "00000000000-99999999999",
            (Self::Eu, 4) => "0000000-9999999",
            (Self::Eu, 3) => "10000000-20000000",
            (Self::Eu, 1) => "5210500000-5210600000",
            (Self::Domestic, _) => {
                return Err(PostnlError::Config(
                    "no documented domestic barcode serie for a 1- or 3-letter customer code",
                ));
            }
            (Self::Eu, _) => {
                return Err(PostnlError::Config(
                    "no documented EU barcode serie for a 2-letter customer code",
                ));
            }
        };
        let len = match self {
            Self::Domestic => 15,
            Self::Eu => 13,
        };
        Ok(BarcodeSpec {
            barcode_type: "3S",
            range,
            serie,
            len,
        })
    }
}

/// One Barcode-service query, and what its answer must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarcodeSpec {
    /// `Type` (always `3S` here).
    pub barcode_type: &'static str,
    /// `Range`: the customer code, upper case.
    pub range: String,
    /// `Serie`: the numeric window.
    pub serie: &'static str,
    /// The exact length of the barcode PostNL must return.
    pub len: usize,
}

impl BarcodeSpec {
    /// Checks a returned barcode: `3S` + range, then digits only, exact length.
    pub fn check(&self, barcode: &str) -> Result<(), &'static str> {
        let prefix = format!("{}{}", self.barcode_type, self.range);
        if barcode.len() != self.len {
            return Err("the barcode has the wrong length");
        }
        let Some(rest) = barcode
            .get(..prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(&prefix))
            .and_then(|_| barcode.get(prefix.len()..))
        else {
            return Err("the barcode does not start with 3S and the customer code");
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the barcode's serial part is not numeric");
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Europe/Amsterdam wall clock
// ---------------------------------------------------------------------------------

/// The UTC offset of Europe/Amsterdam at a given instant.
///
/// EU rule since 1996: summer time (UTC+2) runs from 01:00 UTC on the last Sunday of
/// March to 01:00 UTC on the last Sunday of October; the rest of the year is UTC+1.
pub fn amsterdam_offset(at: OffsetDateTime) -> UtcOffset {
    let utc = at.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let starts = switch_instant(year, Month::March);
    let ends = switch_instant(year, Month::October);
    let hours = match (starts, ends) {
        (Some(s), Some(e)) if utc >= s && utc < e => 2,
        _ => 1,
    };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// 01:00 UTC on the last Sunday of `month` (March and October have 31 days).
fn switch_instant(year: i32, month: Month) -> Option<OffsetDateTime> {
    let last = Date::from_calendar_date(year, month, 31).ok()?;
    let back = i64::from(last.weekday().number_days_from_sunday());
    let sunday = last.checked_sub(time::Duration::days(back))?;
    debug_assert_eq!(sunday.weekday(), Weekday::Sunday);
    Some(sunday.with_hms(1, 0, 0).ok()?.assume_utc())
}

/// The Amsterdam wall-clock time of an instant.
pub fn amsterdam_time(at: OffsetDateTime) -> PrimitiveDateTime {
    let local = at.to_offset(amsterdam_offset(at));
    PrimitiveDateTime::new(local.date(), local.time())
}

/// A local date-time written the PostNL way: `dd-MM-yyyy HH:mm:ss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(pub PrimitiveDateTime);

impl Stamp {
    /// Midnight at the start of a date (the form PostNL's letterbox examples use).
    pub fn date(date: Date) -> Self {
        Self(PrimitiveDateTime::new(date, time::Time::MIDNIGHT))
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:02}-{:02}-{:04} {:02}:{:02}:{:02}",
            t.day(),
            u8::from(t.month()),
            t.year(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// ---------------------------------------------------------------------------------
// Label request
// ---------------------------------------------------------------------------------

/// `POST /shipment/v2_2/label` body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelRequest {
    pub customer: Customer,
    pub message: Message,
    pub shipments: Vec<Shipment>,
}

/// The sender's account and address (`Customer`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Customer {
    pub customer_code: String,
    pub customer_number: String,
    /// The 6-character BLS code of the collecting PostNL location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub contact_person: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub name: Option<Pii<String>>,
    /// Must be a [`AddressType::Sender`] address.
    pub address: Address,
}

/// `AddressType`: the two this tool sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum AddressType {
    #[default]
    #[serde(rename = "01")]
    Receiver,
    #[serde(rename = "02")]
    Sender,
}

/// One address (`Customer.Address` or `Shipments[].Addresses[]`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub address_type: AddressType,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub first_name: Option<Pii<String>>,
    /// Last name; this or `company_name` is required.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub name: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub company_name: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub street: Option<Pii<String>>,
    /// Benelux: digits only, at most 5.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub house_nr: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub house_nr_ext: Option<Pii<String>>,
    /// NL: `1234AB`, no space.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub zipcode: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub city: Option<Pii<String>>,
    /// ISO 3166 alpha-2, upper case.
    pub countrycode: String,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub buildingname: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub department: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub floor: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub doorcode: Option<Pii<String>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "printable")]
    pub region: Option<Pii<String>>,
}

/// Serialises a text field as it may be printed on the label: control, format and
/// private-use characters removed, white space one space (issue #15, item 6). Whatever
/// built the request (Amazon's address, a person's correction, the seller's config),
/// nothing else reaches PostNL.
#[allow(clippy::ref_option)]
fn printable<S: Serializer>(v: &Option<Pii<String>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(p) => s.serialize_some(&crate::printable::clean(p.expose())),
        None => s.serialize_none(),
    }
}

/// `Message`: id, time stamp and printer type. Built only through [`Message::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    #[serde(rename = "MessageID")]
    id: String,
    #[serde(rename = "MessageTimeStamp")]
    time_stamp: Stamp,
    #[serde(rename = "Printertype")]
    printer_type: &'static str,
    #[serde(skip)]
    printer: Printer,
}

impl Message {
    /// A message stamped with the Amsterdam wall-clock time of `now`.
    ///
    /// `id` is 1–12 characters of letters, digits, `-` or `_` (the spec allows 12; some
    /// clients send 36-character UUIDs, which is not something to rely on).
    pub fn new(id: impl Into<String>, now: OffsetDateTime) -> Result<Self, PostnlError> {
        let id = id.into();
        let count = id.chars().count();
        if count == 0 || count > MAX_MESSAGE_ID {
            return Err(PostnlError::Refused(
                "the MessageID must be 1 to 12 characters",
            ));
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(PostnlError::Refused(
                "the MessageID may hold only letters, digits, '-' and '_'",
            ));
        }
        Ok(Self {
            id,
            time_stamp: Stamp(amsterdam_time(now)),
            printer_type: PRINTER_PDF,
            printer: Printer::Pdf,
        })
    }

    /// The same message asking for labels of another printer type.
    #[must_use]
    pub fn with_printer(mut self, printer: Printer) -> Self {
        self.printer = printer;
        self.printer_type = printer.printer_type();
        self
    }

    /// The printer type the labels are asked in.
    pub fn printer(&self) -> Printer {
        self.printer
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn time_stamp(&self) -> Stamp {
        self.time_stamp
    }
}

/// One parcel (`Shipments[]`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shipment {
    /// The receiver ([`AddressType::Receiver`]); the sender lives in `Customer`.
    pub addresses: Vec<Address>,
    /// 11–15 characters, from [`super::Client::barcode`].
    pub barcode: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    pub dimension: Dimension,
    /// 4–5 digits, e.g. `3085`, `2928`, `4907`.
    pub product_code_delivery: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub product_options: Vec<ProductOption>,
    /// Our order reference (the Amazon order id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Required for letterbox parcels; local Amsterdam time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_date: Option<Stamp>,
    /// The multi-collo group this parcel belongs to (issue #19); empty for a parcel
    /// that ships alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

/// `Groups[]`: a parcel's place in a multi-collo shipment (`GroupType` "03"): its
/// sequence from 1, the group's size, and the barcode of parcel 1. PostNL takes
/// insurance `Amounts` only on parcel 1; fulfil sends none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    pub group_type: &'static str,
    pub group_sequence: u32,
    pub group_count: u32,
    pub main_barcode: String,
}

impl Group {
    /// Parcel `sequence` of `count` in the multi-collo group of `main_barcode`.
    #[must_use]
    pub fn multi_collo(sequence: u32, count: u32, main_barcode: &str) -> Self {
        Self {
            group_type: "03",
            group_sequence: sequence,
            group_count: count,
            main_barcode: main_barcode.to_string(),
        }
    }
}

/// `Dimension`: only the weight, in whole grams (≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub weight: u32,
}

/// `ProductOptions[]`: both parts are three digits and always sent together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProductOption {
    pub characteristic: String,
    pub option: String,
}

/// `ContactType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum ContactType {
    #[default]
    #[serde(rename = "01")]
    Receiver,
    #[serde(rename = "02")]
    Sender,
}

/// `Contacts[]`: how PostNL reaches the receiver (track-and-trace mails).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Contact {
    #[serde(rename = "ContactType")]
    pub contact_type: ContactType,
    #[serde(rename = "Email", skip_serializing_if = "Option::is_none")]
    pub email: Option<Pii<String>>,
    #[serde(rename = "SMSNr", skip_serializing_if = "Option::is_none")]
    pub sms_nr: Option<Pii<String>>,
    #[serde(rename = "TelNr", skip_serializing_if = "Option::is_none")]
    pub tel_nr: Option<Pii<String>>,
}

impl LabelRequest {
    /// The rules checked before anything is sent. Reasons are fixed texts: they never
    /// quote a field's value.
    pub fn check(&self) -> Result<(), PostnlError> {
        let n = self.shipments.len();
        if n > MAX_SHIPMENTS {
            return Err(PostnlError::TooManyShipments { count: n });
        }
        if n == 0 {
            return Err(PostnlError::Refused(
                "a label request needs at least one shipment",
            ));
        }
        let c = &self.customer;
        if c.customer_code.is_empty() || c.customer_code.chars().count() > 6 {
            return Err(PostnlError::Config(
                "the customer code must be 1 to 6 characters",
            ));
        }
        if !is_digits(&c.customer_number, 1, 8) {
            return Err(PostnlError::Config(
                "the customer number must be 1 to 8 digits",
            ));
        }
        if let Some(loc) = &c.collection_location
            && loc.chars().count() != 6
        {
            return Err(PostnlError::Config(
                "the collection location must be 6 characters",
            ));
        }
        if c.address.address_type != AddressType::Sender {
            return Err(PostnlError::Refused(
                "the customer address must be the sender (02)",
            ));
        }
        check_address(&c.address)?;
        let mut seen: Vec<&str> = Vec::with_capacity(n);
        for s in &self.shipments {
            if s.barcode.len() < 11
                || s.barcode.len() > 15
                || !s.barcode.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(PostnlError::Refused(
                    "a barcode must be 11 to 15 letters or digits",
                ));
            }
            if seen.iter().any(|b| b.eq_ignore_ascii_case(&s.barcode)) {
                return Err(PostnlError::Refused("two shipments carry the same barcode"));
            }
            seen.push(&s.barcode);
            if s.addresses
                .iter()
                .filter(|a| a.address_type == AddressType::Receiver)
                .count()
                != 1
            {
                return Err(PostnlError::Refused(
                    "each shipment needs exactly one receiver (01)",
                ));
            }
            for a in &s.addresses {
                check_address(a)?;
            }
            if s.dimension.weight == 0 {
                return Err(PostnlError::Refused("the weight must be at least 1 gram"));
            }
            if !is_digits(&s.product_code_delivery, 4, 5) {
                return Err(PostnlError::Refused(
                    "the product code must be 4 or 5 digits",
                ));
            }
            if s.product_options
                .iter()
                .any(|o| !is_digits(&o.characteristic, 3, 3) || !is_digits(&o.option, 3, 3))
            {
                return Err(PostnlError::Refused(
                    "product options need a 3-digit Characteristic and a 3-digit Option",
                ));
            }
            if LETTERBOX_PRODUCTS.contains(&s.product_code_delivery.as_str())
                && s.delivery_date.is_none()
            {
                return Err(PostnlError::Refused(
                    "a letterbox parcel needs a DeliveryDate",
                ));
            }
        }
        Ok(())
    }
}

fn check_address(a: &Address) -> Result<(), PostnlError> {
    if a.countrycode.len() != 2 || !a.countrycode.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(PostnlError::Refused(
            "a country code must be two upper-case letters (ISO 3166)",
        ));
    }
    let filled = |f: &Option<Pii<String>>| {
        f.as_ref()
            .is_some_and(|v| crate::printable::has_text(&crate::printable::clean(v.expose())))
    };
    if !filled(&a.name) && !filled(&a.company_name) {
        return Err(PostnlError::Refused(
            "an address needs a name or a company name",
        ));
    }
    if !filled(&a.city) {
        return Err(PostnlError::Refused("an address needs a city"));
    }
    // Benelux: PostNL wants street, a numeric house number of at most 5 digits and a
    // postcode in the national form (NL `1234AB`, BE/LU four digits).
    let text = |f: &Option<Pii<String>>| f.as_ref().map(|v| v.expose().clone()).unwrap_or_default();
    let zip_ok = |zip: &str| match a.countrycode.as_str() {
        "NL" => {
            let b = zip.as_bytes();
            b.len() == 6
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4..].iter().all(u8::is_ascii_uppercase)
        }
        _ => is_digits(zip, 4, 4),
    };
    if matches!(a.countrycode.as_str(), "NL" | "BE" | "LU") {
        if !filled(&a.street) {
            return Err(PostnlError::Refused("a Benelux address needs a street"));
        }
        if !is_digits(&text(&a.house_nr), 1, 5) {
            return Err(PostnlError::Refused(
                "a Benelux house number must be 1 to 5 digits (letters go in HouseNrExt)",
            ));
        }
        if !zip_ok(&text(&a.zipcode)) {
            return Err(PostnlError::Refused(
                "a Benelux postcode must be 1234AB (NL) or four digits (BE, LU)",
            ));
        }
    }
    Ok(())
}

fn is_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------

/// A code and text PostNL returned as an error or a warning.
///
/// The code is PostNL's own and safe to print. The description is PostNL's text,
/// which may quote what we sent ("Zipcode 1234XY is invalid"), so it is [`Pii`]: show
/// it only when the operator asked for personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub code: String,
    pub description: Pii<String>,
}

impl Notice {
    /// Reads one error/warning object, matching keys in any letter case and accepting
    /// the `Code`/`Description`, `ErrorNumber`/`ErrorMsg` and `ErrorCode`/
    /// `ErrorMessage` spellings. Codes are kept to a short, printable token.
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Object(map) => {
                let mut code = None;
                let mut description = None;
                let mut context = None;
                for (k, val) in map {
                    let key = k.to_ascii_lowercase();
                    let text = scalar_text(val);
                    match key.as_str() {
                        "code" | "errornumber" | "errorcode" => code = code.or(text),
                        "description" | "errormsg" | "errormessage" | "message" => {
                            description = description.or(text);
                        }
                        "error" => context = context.or(text),
                        _ => {}
                    }
                }
                let description = description.or(context);
                if code.is_none() && description.is_none() {
                    return None;
                }
                Some(Self {
                    code: clean_code(code.as_deref().unwrap_or("")),
                    description: Pii::new(description.unwrap_or_default()),
                })
            }
            Value::String(s) if !s.is_empty() => Some(Self {
                code: String::new(),
                description: Pii::new(s.clone()),
            }),
            _ => None,
        }
    }
}

/// Keeps a code printable and short: letters, digits, `.`, `-`, `_`; at most 40.
pub(crate) fn clean_code(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(40)
        .collect()
}

/// A string or number as text; anything else (null, `{}`, lists) as nothing.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Collects notices from a list, a single object, or a wrapper `{"Error": [...]}`.
fn collect_notices(v: &Value, out: &mut Vec<Notice>, depth: u8) {
    if depth > 4 {
        return;
    }
    match v {
        Value::Array(items) => {
            for item in items {
                collect_notices(item, out, depth + 1);
            }
        }
        Value::Object(map) if map.is_empty() => {}
        Value::Object(map) => {
            // `{"Errors": {"Error": [...]}}`: a wrapper whose only key holds the list.
            if map.len() == 1
                && let Some((k, inner)) = map.iter().next()
                && (k.eq_ignore_ascii_case("error") || k.eq_ignore_ascii_case("item"))
                && (inner.is_array() || inner.is_object())
            {
                collect_notices(inner, out, depth + 1);
                return;
            }
            out.extend(Notice::from_value(v));
        }
        other => out.extend(Notice::from_value(other)),
    }
}

/// serde helper: `Errors`/`Warnings` in any of their shapes.
fn notices<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Notice>, D::Error> {
    let v = Value::deserialize(d)?;
    let mut out = Vec::new();
    collect_notices(&v, &mut out, 0);
    Ok(out)
}

/// serde helper: a list that PostNL may send as a list, a single object, an empty
/// object or null. Empty objects inside a list are dropped too.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let is_empty_object = |v: &Value| v.as_object().is_some_and(serde_json::Map::is_empty);
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .filter(|v| !v.is_null() && !is_empty_object(v))
            .map(|v| T::deserialize(v).map_err(D::Error::custom))
            .collect(),
        v if is_empty_object(&v) => Ok(Vec::new()),
        v @ Value::Object(_) => Ok(vec![T::deserialize(v).map_err(D::Error::custom)?]),
        _ => Err(D::Error::custom("expected a list or an object")),
    }
}

/// serde helper: an optional text field that may come as a string, a number, null or
/// an empty object (`"DownPartnerLocation": {}` style).
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(scalar_text(&Value::deserialize(d)?))
}

#[derive(Debug, Default, Deserialize)]
struct WireBarcode {
    #[serde(
        rename = "Barcode",
        alias = "barcode",
        default,
        deserialize_with = "lenient_text"
    )]
    barcode: Option<String>,
    #[serde(
        rename = "Errors",
        alias = "errors",
        default,
        deserialize_with = "notices"
    )]
    errors: Vec<Notice>,
}

#[derive(Debug, Default, Deserialize)]
struct WireLabelResponse {
    #[serde(
        rename = "ResponseShipments",
        alias = "responseShipments",
        default,
        deserialize_with = "one_or_many"
    )]
    shipments: Vec<WireShipment>,
    #[serde(
        rename = "Errors",
        alias = "errors",
        default,
        deserialize_with = "notices"
    )]
    errors: Vec<Notice>,
}

#[derive(Debug, Default, Deserialize)]
struct WireShipment {
    #[serde(
        rename = "Barcode",
        alias = "barcode",
        default,
        deserialize_with = "lenient_text"
    )]
    barcode: Option<String>,
    #[serde(
        rename = "ProductCodeDelivery",
        default,
        deserialize_with = "lenient_text"
    )]
    product_code: Option<String>,
    #[serde(rename = "CodingText", default, deserialize_with = "lenient_text")]
    coding_text: Option<String>,
    #[serde(
        rename = "Labels",
        alias = "labels",
        default,
        deserialize_with = "one_or_many"
    )]
    labels: Vec<WireLabel>,
    #[serde(
        rename = "Errors",
        alias = "errors",
        default,
        deserialize_with = "notices"
    )]
    errors: Vec<Notice>,
    #[serde(
        rename = "Warnings",
        alias = "warnings",
        default,
        deserialize_with = "notices"
    )]
    warnings: Vec<Notice>,
}

#[derive(Debug, Default, Deserialize)]
struct WireLabel {
    #[serde(
        rename = "Content",
        alias = "content",
        default,
        deserialize_with = "lenient_text"
    )]
    content: Option<String>,
    #[serde(
        rename = "Labeltype",
        alias = "LabelType",
        alias = "labeltype",
        default,
        deserialize_with = "lenient_text"
    )]
    label_type: Option<String>,
    #[serde(
        rename = "OutputType",
        alias = "outputType",
        default,
        deserialize_with = "lenient_text"
    )]
    output_type: Option<String>,
}

/// Why a 2xx body was not usable.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Not JSON, cut off, or not the expected shape: worth retrying.
    Malformed(String),
    /// PostNL answered with errors and nothing else.
    Rejected(Vec<Notice>),
}

/// One label document, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct Label {
    /// `Labeltype`: `Label`, `BusPakjeExtra`, `CN23`, `CP71`, `CommercialInvoice`, …
    pub label_type: String,
    /// `OutputType`, e.g. `PDF`.
    pub output_type: Option<String>,
    /// The PDF file. It carries the receiver's address, so `Debug` shows its size only.
    pub content: Vec<u8>,
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Label")
            .field("label_type", &self.label_type)
            .field("output_type", &self.output_type)
            .field("bytes", &self.content.len())
            .finish()
    }
}

/// PostNL's answer for one shipment of the request.
#[derive(Debug)]
pub struct ShipmentResult {
    /// The barcode we sent.
    pub barcode: String,
    pub product_code: Option<String>,
    /// The letterbox coding line, needed again if the shipment is confirmed later.
    pub coding_text: Option<String>,
    /// Not fatal (e.g. 1280103 "address unknown"): a label was still made.
    pub warnings: Vec<Notice>,
    /// The label documents, or why this shipment has none
    /// ([`PostnlError::Rejected`], [`PostnlError::NoLabel`], [`PostnlError::BadLabel`]).
    pub outcome: Result<Vec<Label>, PostnlError>,
}

/// The answer to a label call: one entry per request shipment, in request order.
#[derive(Debug)]
pub struct LabelResponse {
    pub shipments: Vec<ShipmentResult>,
}

pub(crate) fn parse_barcode(body: &[u8]) -> Result<String, BodyError> {
    let wire: WireBarcode = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(crate::transport::json_detail(&e)))?;
    match wire.barcode {
        Some(b) => Ok(b.trim().to_string()),
        None if !wire.errors.is_empty() => Err(BodyError::Rejected(wire.errors)),
        None => Err(BodyError::Malformed("the answer holds no barcode".into())),
    }
}

/// Parses a 2xx label answer and pairs it with the request's barcodes.
#[cfg(test)]
pub(crate) fn parse_label_response(
    body: &[u8],
    barcodes: &[&str],
) -> Result<LabelResponse, BodyError> {
    parse_label_response_as(body, barcodes, Printer::Pdf)
}

/// [`parse_label_response`] for labels asked as `printer`: each label's content must be
/// of that kind (a PDF, or ZPL II blocks).
pub(crate) fn parse_label_response_as(
    body: &[u8],
    barcodes: &[&str],
    printer: Printer,
) -> Result<LabelResponse, BodyError> {
    let wire: WireLabelResponse = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(crate::transport::json_detail(&e)))?;
    if wire.shipments.is_empty() {
        return Err(if wire.errors.is_empty() {
            BodyError::Malformed("the answer holds no ResponseShipments".into())
        } else {
            BodyError::Rejected(wire.errors)
        });
    }
    let mut pool: Vec<Option<WireShipment>> = wire.shipments.into_iter().map(Some).collect();
    let mut shipments = Vec::with_capacity(barcodes.len());
    for (i, &barcode) in barcodes.iter().enumerate() {
        // Pair by barcode; an entry without a barcode is taken by position.
        let by_barcode = pool.iter().position(|w| {
            w.as_ref()
                .and_then(|w| w.barcode.as_deref())
                .is_some_and(|b| b.trim().eq_ignore_ascii_case(barcode))
        });
        let by_position = || {
            pool.get(i)
                .and_then(Option::as_ref)
                .filter(|w| w.barcode.is_none())
                .map(|_| i)
        };
        let found = by_barcode
            .or_else(by_position)
            .and_then(|k| pool.get_mut(k)?.take());
        shipments.push(match found {
            Some(w) => shipment_result(barcode, w, printer),
            None => ShipmentResult {
                barcode: barcode.to_string(),
                product_code: None,
                coding_text: None,
                warnings: Vec::new(),
                outcome: Err(PostnlError::NoLabel {
                    barcode: barcode.to_string(),
                }),
            },
        });
    }
    let unpaired = pool.iter().flatten().count();
    if unpaired > 0 {
        tracing::warn!(
            unpaired,
            "PostNL answered for shipments that were not asked for"
        );
    }
    Ok(LabelResponse { shipments })
}

fn shipment_result(barcode: &str, w: WireShipment, printer: Printer) -> ShipmentResult {
    let outcome = if !w.errors.is_empty() {
        Err(PostnlError::Rejected {
            barcode: barcode.to_string(),
            issues: w.errors,
        })
    } else if w.labels.is_empty() {
        Err(PostnlError::NoLabel {
            barcode: barcode.to_string(),
        })
    } else {
        w.labels
            .into_iter()
            .map(|l| {
                let label_type = l.label_type.unwrap_or_else(|| "Label".to_string());
                match decode_label(l.content.as_deref().unwrap_or(""), printer) {
                    Ok(content) => Ok(Label {
                        label_type,
                        output_type: l.output_type,
                        content,
                    }),
                    Err(reason) => Err(PostnlError::BadLabel {
                        barcode: barcode.to_string(),
                        label_type: clean_code(&label_type),
                        reason,
                    }),
                }
            })
            .collect()
    };
    ShipmentResult {
        barcode: barcode.to_string(),
        product_code: w.product_code,
        coding_text: w.coding_text,
        warnings: w.warnings,
        outcome,
    }
}

/// Decodes base64 label content and checks it is what `printer` makes: a PDF, or ZPL II
/// (one or more `^XA … ^XZ` blocks).
pub fn decode_label(content: &str, printer: Printer) -> Result<Vec<u8>, &'static str> {
    if !printer.is_zpl() {
        return decode_pdf(content);
    }
    let bytes = decode_base64(content)?;
    if !is_zpl(&bytes) {
        return Err("the label content is not ZPL");
    }
    Ok(bytes)
}

/// True when `bytes` is ZPL II: after leading white space it starts a label (`^XA`, or
/// `~`-commands such as `~DG` graphics before it) and its last label ends with `^XZ`.
#[must_use]
pub fn is_zpl(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii();
    let starts = trimmed.starts_with(b"^XA") || trimmed.starts_with(b"~");
    starts && trimmed.ends_with(b"^XZ") && trimmed.windows(3).any(|w| w == b"^XA")
}

fn decode_base64(content: &str) -> Result<Vec<u8>, &'static str> {
    let compact: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err("the label content is empty");
    }
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "the label content is not valid base64")
}

/// Decodes base64 label content (line breaks allowed) and checks it is a PDF.
pub fn decode_pdf(content: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = decode_base64(content)?;
    if !bytes.starts_with(b"%PDF") {
        return Err("the label content is not a PDF");
    }
    Ok(bytes)
}

/// What can be read from a non-2xx body: the error list and a gateway fault code.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub issues: Vec<Notice>,
    pub fault_code: Option<String>,
}

/// Reads any of PostNL's documented error bodies; never fails (garbage gives nothing).
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody::default();
    };
    let Some(map) = v.as_object() else {
        return ErrorBody::default();
    };
    let mut out = ErrorBody::default();
    for (k, val) in map {
        let key = k.to_ascii_lowercase();
        match key.as_str() {
            "errors" | "error" | "array" => collect_notices(val, &mut out.issues, 0),
            "fault" => {
                out.fault_code = val
                    .get("detail")
                    .and_then(|d| d.get("errorcode"))
                    .and_then(scalar_text)
                    .map(|c| clean_code(&c))
                    .filter(|c| !c.is_empty());
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::{date, datetime};

    const PDF_B64: &str = "JVBERi0xLjMKJeLjz9MK"; // "%PDF-1.3\n%âãÏÓ\n"

    #[allow(clippy::unnecessary_wraps)] // the request fields are `Option`s
    fn pii(s: &str) -> Option<Pii<String>> {
        Some(Pii::new(s.to_string()))
    }

    fn sender() -> Customer {
        Customer {
            customer_code: "DEVC".into(),
            customer_number: "11223344".into(),
            collection_location: Some("123456".into()),
            contact_person: pii("Shop Owner"),
            email: pii("orders@example-shop.nl"),
            name: pii("Example Shop"),
            address: Address {
                address_type: AddressType::Sender,
                company_name: pii("Example Shop B.V."),
                street: pii("Voorbeeldweg"),
                house_nr: pii("10"),
                house_nr_ext: pii(""),
                zipcode: pii("3511AB"),
                city: pii("Utrecht"),
                countrycode: "NL".into(),
                ..Address::default()
            },
        }
    }

    fn nl_request() -> LabelRequest {
        LabelRequest {
            customer: sender(),
            message: Message::new("A20250203001", datetime!(2025-02-03 08:15:00 UTC)).unwrap(),
            shipments: vec![Shipment {
                addresses: vec![Address {
                    address_type: AddressType::Receiver,
                    first_name: pii("Jan"),
                    name: pii("Jansen"),
                    street: pii("Laan van Meerdervoort"),
                    house_nr: pii("1021"),
                    house_nr_ext: pii("bis"),
                    zipcode: pii("2564AZ"),
                    city: pii("Den Haag"),
                    countrycode: "NL".into(),
                    ..Address::default()
                }],
                barcode: "3SDEVC987123456".into(),
                contacts: vec![Contact {
                    contact_type: ContactType::Receiver,
                    email: pii("buyer@example.org"),
                    sms_nr: pii("+31612345678"),
                    tel_nr: None,
                }],
                dimension: Dimension { weight: 850 },
                product_code_delivery: "3085".into(),
                product_options: Vec::new(),
                reference: Some("402-1234567-7654321".into()),
                delivery_date: None,
                groups: Vec::new(),
            }],
        }
    }

    fn de_request() -> LabelRequest {
        LabelRequest {
            customer: sender(),
            message: Message::new("B7", datetime!(2025-07-01 10:00:00 UTC)).unwrap(),
            shipments: vec![Shipment {
                addresses: vec![Address {
                    address_type: AddressType::Receiver,
                    first_name: pii("Erika"),
                    name: pii("Mustermann"),
                    street: pii("Heidestraße"),
                    house_nr: pii("17"),
                    zipcode: pii("51147"),
                    city: pii("Köln"),
                    countrycode: "DE".into(),
                    ..Address::default()
                }],
                barcode: "3SDEVC1234567".into(),
                contacts: Vec::new(),
                dimension: Dimension { weight: 1200 },
                product_code_delivery: "4907".into(),
                product_options: vec![
                    ProductOption {
                        characteristic: "005".into(),
                        option: "025".into(),
                    },
                    ProductOption {
                        characteristic: "101".into(),
                        option: "012".into(),
                    },
                ],
                reference: Some("305-7654321-1234567".into()),
                delivery_date: None,
                groups: Vec::new(),
            }],
        }
    }

    // --- request serialisation ---------------------------------------------------

    #[test]
    fn nl_request_serialises_with_openapi_names() {
        let got = serde_json::to_value(nl_request()).unwrap();
        let want = json!({
            "Customer": {
                "CustomerCode": "DEVC",
                "CustomerNumber": "11223344",
                "CollectionLocation": "123456",
                "ContactPerson": "Shop Owner",
                "Email": "orders@example-shop.nl",
                "Name": "Example Shop",
                "Address": {
                    "AddressType": "02", "CompanyName": "Example Shop B.V.",
                    "Street": "Voorbeeldweg", "HouseNr": "10", "HouseNrExt": "",
                    "Zipcode": "3511AB", "City": "Utrecht", "Countrycode": "NL"
                }
            },
            "Message": {
                "MessageID": "A20250203001",
                "MessageTimeStamp": "03-02-2025 09:15:00",
                "Printertype": "GraphicFile|PDF"
            },
            "Shipments": [{
                "Addresses": [{
                    "AddressType": "01", "FirstName": "Jan", "Name": "Jansen",
                    "Street": "Laan van Meerdervoort", "HouseNr": "1021", "HouseNrExt": "bis",
                    "Zipcode": "2564AZ", "City": "Den Haag", "Countrycode": "NL"
                }],
                "Barcode": "3SDEVC987123456",
                "Contacts": [{
                    "ContactType": "01", "Email": "buyer@example.org", "SMSNr": "+31612345678"
                }],
                "Dimension": { "Weight": 850 },
                "ProductCodeDelivery": "3085",
                "Reference": "402-1234567-7654321"
            }]
        });
        assert_eq!(got, want);
        nl_request().check().unwrap();
    }

    #[test]
    fn de_request_serialises_options_and_omits_empty_contacts() {
        let got = serde_json::to_value(de_request()).unwrap();
        let shipment = &got["Shipments"][0];
        assert_eq!(
            *shipment,
            json!({
                "Addresses": [{
                    "AddressType": "01", "FirstName": "Erika", "Name": "Mustermann",
                    "Street": "Heidestraße", "HouseNr": "17", "Zipcode": "51147",
                    "City": "Köln", "Countrycode": "DE"
                }],
                "Barcode": "3SDEVC1234567",
                "Dimension": { "Weight": 1200 },
                "ProductCodeDelivery": "4907",
                "ProductOptions": [
                    { "Characteristic": "005", "Option": "025" },
                    { "Characteristic": "101", "Option": "012" }
                ],
                "Reference": "305-7654321-1234567"
            })
        );
        // Summer: CEST, two hours ahead of UTC.
        assert_eq!(got["Message"]["MessageTimeStamp"], "01-07-2025 12:00:00");
        de_request().check().unwrap();
    }

    #[test]
    fn letterbox_needs_and_sends_a_delivery_date() {
        let mut r = nl_request();
        r.shipments[0].product_code_delivery = "2928".into();
        assert!(matches!(r.check(), Err(PostnlError::Refused(_))));
        r.shipments[0].delivery_date = Some(Stamp::date(date!(2025 - 02 - 04)));
        r.check().unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["Shipments"][0]["DeliveryDate"], "04-02-2025 00:00:00");
    }

    #[test]
    fn five_shipments_are_refused() {
        let mut r = nl_request();
        for i in 0..4 {
            let mut s = r.shipments[0].clone();
            s.barcode = format!("3SDEVC98712345{i}");
            r.shipments.push(s);
        }
        assert_eq!(r.shipments.len(), 5);
        assert!(matches!(
            r.check(),
            Err(PostnlError::TooManyShipments { count: 5 })
        ));
        r.shipments.pop();
        r.check().unwrap();
    }

    #[test]
    fn request_rules_are_checked() {
        let mut r = nl_request();
        r.customer.address.address_type = AddressType::Receiver;
        assert!(r.check().is_err());

        let mut r = nl_request();
        r.shipments[0].addresses[0].address_type = AddressType::Sender;
        assert!(r.check().is_err());

        let mut r = nl_request();
        r.shipments[0].dimension.weight = 0;
        assert!(r.check().is_err());

        let mut r = nl_request();
        r.shipments[0].product_options.push(ProductOption {
            characteristic: "5".into(),
            option: "025".into(),
        });
        assert!(r.check().is_err());

        let mut r = nl_request();
        r.shipments[0].addresses[0].countrycode = "nl".into();
        assert!(r.check().is_err());

        let mut r = nl_request();
        r.shipments[0].barcode = "3SDEVC".into();
        assert!(r.check().is_err());

        let mut r = nl_request();
        r.shipments.clear();
        assert!(r.check().is_err());

        let refused = |f: &dyn Fn(&mut Address)| {
            let mut r = nl_request();
            f(&mut r.shipments[0].addresses[0]);
            matches!(r.check(), Err(PostnlError::Refused(_)))
        };
        assert!(refused(&|a| a.house_nr = pii("12a")));
        assert!(refused(&|a| a.house_nr = pii("123456")));
        assert!(refused(&|a| a.house_nr = None));
        assert!(refused(&|a| a.zipcode = pii("2564 AZ")));
        assert!(refused(&|a| a.zipcode = pii("2564az")));
        assert!(refused(&|a| a.zipcode = pii("123ä5")));
        assert!(refused(&|a| a.street = None));
        assert!(refused(&|a| a.city = pii(" ")));
        assert!(refused(&|a| {
            a.name = None;
            a.first_name = pii("Jan");
        }));
        assert!(!refused(&|a| {
            a.countrycode = "BE".into();
            a.zipcode = pii("1000");
        }));
        assert!(refused(&|a| a.countrycode = "BE".into()));
        // Outside the Benelux the form is PostNL's business, not ours.
        assert!(!refused(&|a| {
            a.countrycode = "DE".into();
            a.zipcode = pii("D-51147");
            a.house_nr = pii("17a");
        }));
    }

    #[test]
    fn message_id_is_limited_to_twelve_characters() {
        let now = datetime!(2025-01-01 00:00:00 UTC);
        assert!(Message::new("ABCDEFGHIJKL", now).is_ok());
        assert!(Message::new("ABCDEFGHIJKLM", now).is_err());
        assert!(Message::new("", now).is_err());
        assert!(Message::new("a b", now).is_err());
        assert_eq!(Message::new("X1", now).unwrap().id(), "X1");
    }

    #[test]
    fn request_debug_shows_no_personal_data() {
        let mut r = nl_request();
        let canary = "Canary7Q";
        let a = &mut r.shipments[0].addresses[0];
        for field in [
            &mut a.first_name,
            &mut a.name,
            &mut a.company_name,
            &mut a.street,
            &mut a.house_nr,
            &mut a.house_nr_ext,
            &mut a.zipcode,
            &mut a.city,
            &mut a.buildingname,
            &mut a.department,
            &mut a.floor,
            &mut a.doorcode,
            &mut a.region,
        ] {
            *field = pii(canary);
        }
        let c = &mut r.shipments[0].contacts[0];
        c.email = pii(canary);
        c.sms_nr = pii(canary);
        c.tel_nr = pii(canary);
        r.customer.contact_person = pii(canary);
        r.customer.email = pii(canary);
        r.customer.name = pii(canary);
        r.customer.address.street = pii(canary);
        let debug = format!("{r:?} {r:#?}");
        assert!(!debug.contains(canary), "personal data in Debug: {debug}");
        assert!(debug.contains("[pii]"));
        // …while the wire form still carries it.
        assert!(serde_json::to_string(&r).unwrap().contains(canary));
    }

    // --- Amsterdam time ------------------------------------------------------------

    #[test]
    fn amsterdam_time_around_march_switch() {
        // 2025: last Sunday of March is the 30th; clocks go 02:00 → 03:00 local.
        let f = |t| Stamp(amsterdam_time(t)).to_string();
        assert_eq!(f(datetime!(2025-03-30 00:59:59 UTC)), "30-03-2025 01:59:59");
        assert_eq!(f(datetime!(2025-03-30 01:00:00 UTC)), "30-03-2025 03:00:00");
        assert_eq!(f(datetime!(2025-03-29 12:00:00 UTC)), "29-03-2025 13:00:00");
        // 2024: March 31st itself is the last Sunday.
        assert_eq!(f(datetime!(2024-03-31 00:30:00 UTC)), "31-03-2024 01:30:00");
        assert_eq!(f(datetime!(2024-03-31 01:30:00 UTC)), "31-03-2024 03:30:00");
        assert_eq!(f(datetime!(2024-03-24 12:00:00 UTC)), "24-03-2024 13:00:00");
    }

    #[test]
    fn amsterdam_time_around_october_switch() {
        // 2025: last Sunday of October is the 26th; clocks go 03:00 → 02:00 local.
        let f = |t| Stamp(amsterdam_time(t)).to_string();
        assert_eq!(f(datetime!(2025-10-26 00:59:59 UTC)), "26-10-2025 02:59:59");
        assert_eq!(f(datetime!(2025-10-26 01:00:00 UTC)), "26-10-2025 02:00:00");
        assert_eq!(f(datetime!(2025-10-27 12:00:00 UTC)), "27-10-2025 13:00:00");
        // 2027: October 31st is the last Sunday.
        assert_eq!(f(datetime!(2027-10-31 00:00:00 UTC)), "31-10-2027 02:00:00");
        assert_eq!(f(datetime!(2027-10-31 01:00:00 UTC)), "31-10-2027 02:00:00");
        // New Year's Eve crosses the date line locally.
        assert_eq!(f(datetime!(2025-12-31 23:30:00 UTC)), "01-01-2026 00:30:00");
        // An instant given with another offset is converted first.
        assert_eq!(
            f(datetime!(2025-07-01 12:00:00 +05:00)),
            "01-07-2025 09:00:00"
        );
    }

    #[test]
    fn stamp_matches_spec_pattern() {
        let s = Stamp(amsterdam_time(datetime!(2025-02-03 08:05:09 UTC))).to_string();
        assert_eq!(s, "03-02-2025 09:05:09");
        let b = s.as_bytes();
        assert_eq!(s.len(), 19);
        assert_eq!(
            (b[2], b[5], b[10], b[13], b[16]),
            (b'-', b'-', b' ', b':', b':')
        );
    }

    // --- barcodes --------------------------------------------------------------------

    #[test]
    fn barcode_kind_by_customer_code_length() {
        let d4 = BarcodeKind::Domestic.spec("DEVC").unwrap();
        assert_eq!(
            (d4.barcode_type, d4.range.as_str(), d4.serie, d4.len),
            ("3S", "DEVC", "987000000-987600000", 15)
        );
        let d2 = BarcodeKind::Domestic.spec("ab").unwrap();
        assert_eq!(
            (d2.range.as_str(), d2.serie, d2.len),
            ("AB", "00000000000-99999999999", 15)
        );
        assert!(BarcodeKind::Domestic.spec("ABC").is_err());
        assert!(BarcodeKind::Domestic.spec("A").is_err());

        let e4 = BarcodeKind::Eu.spec("DEVC").unwrap();
        assert_eq!((e4.serie, e4.len), ("0000000-9999999", 13));
        let e3 = BarcodeKind::Eu.spec("ABC").unwrap();
        assert_eq!((e3.serie, e3.len), ("10000000-20000000", 13));
        let e1 = BarcodeKind::Eu.spec("A").unwrap();
        assert_eq!((e1.serie, e1.len), ("5210500000-5210600000", 13));
        assert!(BarcodeKind::Eu.spec("AB").is_err());

        for bad in ["", "DEVCX", "DE1C", "DE C"] {
            assert!(matches!(
                BarcodeKind::Eu.spec(bad),
                Err(PostnlError::Config(_))
            ));
        }
        // Every documented serie makes len(Type) + len(Range) + digits = result length.
        for (k, code) in [
            (BarcodeKind::Domestic, "DEVC"),
            (BarcodeKind::Domestic, "AB"),
            (BarcodeKind::Eu, "DEVC"),
            (BarcodeKind::Eu, "ABC"),
            (BarcodeKind::Eu, "A"),
        ] {
            let s = k.spec(code).unwrap();
            let digits = s.serie.split('-').next().unwrap().len();
            assert_eq!(2 + s.range.len() + digits, s.len, "{k:?} {code}");
        }
    }

    #[test]
    fn barcode_kind_by_destination() {
        assert_eq!(BarcodeKind::for_country("NL"), Some(BarcodeKind::Domestic));
        assert_eq!(BarcodeKind::for_country("be"), Some(BarcodeKind::Eu));
        assert_eq!(BarcodeKind::for_country("DE"), Some(BarcodeKind::Eu));
        assert_eq!(BarcodeKind::for_country("GB"), None);
        assert_eq!(BarcodeKind::for_country("CH"), None);
    }

    #[test]
    fn returned_barcode_is_checked() {
        let d = BarcodeKind::Domestic.spec("DEVC").unwrap();
        assert!(d.check("3SDEVC987001234").is_ok());
        assert!(d.check("3SDEVC903942795").is_ok());
        assert!(d.check("3SDEVC9870012").is_err()); // 13: EU length on a domestic call
        assert!(d.check("3SXXXX987001234").is_err());
        assert!(d.check("3SDEVC98700123A").is_err());
        assert!(d.check("").is_err());
        let e = BarcodeKind::Eu.spec("DEVC").unwrap();
        assert!(e.check("3SDEVC1234567").is_ok());
        assert!(e.check("3SDEVC987001234").is_err()); // the NOTES §3 pitfall
    }

    #[test]
    fn barcode_bodies() {
        assert_eq!(
            parse_barcode(br#"{"Barcode":"3SDEVC903942795"}"#).unwrap(),
            "3SDEVC903942795"
        );
        match parse_barcode(
            br#"{"errors":[{"ErrorMsg":"Too many numbers in series","ErrorNumber":"8"}]}"#,
        ) {
            Err(BodyError::Rejected(v)) => assert_eq!(v[0].code, "8"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_barcode(b"{}"), Err(BodyError::Malformed(_))));
        assert!(matches!(
            parse_barcode(b"<html>"),
            Err(BodyError::Malformed(_))
        ));
    }

    // --- label responses -----------------------------------------------------------

    fn standard_body() -> String {
        format!(
            r##"{{
              "MergedLabels": [],
              "ResponseShipments": [{{
                "Barcode": "3SDEVC987123456",
                "ProductCodeDelivery": "3085",
                "Labels": [{{ "Content": "{PDF_B64}", "Labeltype": "Label", "OutputType": "PDF" }}],
                "Errors": [],
                "Warnings": [{{ "Code": "1280103", "Description": "Address is unknown" }}],
                "CodingText": "#2426A3A#03#0306#"
              }}]
            }}"##
        )
    }

    #[test]
    fn list_form_with_warning() {
        let r = parse_label_response(standard_body().as_bytes(), &["3SDEVC987123456"]).unwrap();
        assert_eq!(r.shipments.len(), 1);
        let s = &r.shipments[0];
        assert_eq!(s.product_code.as_deref(), Some("3085"));
        assert_eq!(s.coding_text.as_deref(), Some("#2426A3A#03#0306#"));
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(s.warnings[0].code, "1280103");
        assert_eq!(s.warnings[0].description.expose(), "Address is unknown");
        let labels = s.outcome.as_ref().unwrap();
        assert_eq!(labels[0].label_type, "Label");
        assert_eq!(labels[0].output_type.as_deref(), Some("PDF"));
        assert!(labels[0].content.starts_with(b"%PDF-1.3"));
        assert!(!format!("{:?}", labels[0]).contains("PDF-1.3"));
    }

    #[test]
    fn single_object_form_and_empty_objects() {
        let body = format!(
            r#"{{
              "ResponseShipments": {{
                "Barcode": "3SDEVC987123456",
                "ProductCodeDelivery": "3085",
                "DownPartnerLocation": {{}},
                "DownPartnerBarcode": {{}},
                "Labels": {{ "Content": "{PDF_B64}", "Labeltype": "BusPakjeExtra", "OutputType": "PDF" }},
                "Warnings": {{ "Code": "1280103", "Description": "Address is unknown" }},
                "Errors": {{}},
                "CodingText": {{}},
                "SomethingNew": [1, 2, 3]
              }},
              "MergedLabels": {{}}
            }}"#
        );
        let r = parse_label_response(body.as_bytes(), &["3SDEVC987123456"]).unwrap();
        let s = &r.shipments[0];
        assert_eq!(s.coding_text, None);
        assert_eq!(s.warnings.len(), 1);
        let labels = s.outcome.as_ref().unwrap();
        assert_eq!(labels.len(), 1);
        assert_eq!(labels[0].label_type, "BusPakjeExtra");
    }

    #[test]
    fn non_eu_documents_keep_their_types() {
        let body = format!(
            r#"{{"ResponseShipments":[{{"Barcode":"CA12346536XNL","Errors":[],"Warnings":[],
              "Labels":[{{"Content":"{PDF_B64}","Labeltype":"CN23","OutputType":"PDF"}},
                        {{"Content":"{PDF_B64}","Labeltype":"CP71","OutputType":"PDF"}},
                        {{"Content":"{PDF_B64}","Labeltype":"CommercialInvoice","OutputType":"PDF"}}],
              "ProductCodeDelivery":"4945"}}]}}"#
        );
        let r = parse_label_response(body.as_bytes(), &["CA12346536XNL"]).unwrap();
        let kinds: Vec<_> = r.shipments[0]
            .outcome
            .as_ref()
            .unwrap()
            .iter()
            .map(|l| l.label_type.as_str())
            .collect();
        assert_eq!(kinds, ["CN23", "CP71", "CommercialInvoice"]);
    }

    #[test]
    fn errors_inside_200_fail_only_that_shipment() {
        let body = format!(
            r#"{{"ResponseShipments":[
                {{"Barcode":"3SDEVC987000001","ProductCodeDelivery":"4905","Labels":[],
                  "Errors":[{{"Code":"111","Description":"No label available, Direct Infeed"}}],
                  "Warnings":[]}},
                {{"Barcode":"3SDEVC987000002","ProductCodeDelivery":"3085",
                  "Labels":[{{"Content":"{PDF_B64}","Labeltype":"Label"}}],"Errors":[]}}
            ]}}"#
        );
        let r =
            parse_label_response(body.as_bytes(), &["3SDEVC987000001", "3SDEVC987000002"]).unwrap();
        match &r.shipments[0].outcome {
            Err(e @ PostnlError::Rejected { barcode, issues }) => {
                assert_eq!(barcode, "3SDEVC987000001");
                assert_eq!(issues[0].code, "111");
                assert!(e.is_order_failure());
            }
            other => panic!("{other:?}"),
        }
        assert!(r.shipments[1].outcome.is_ok());
    }

    #[test]
    fn shipments_are_paired_by_barcode_not_position() {
        let body = format!(
            r#"{{"ResponseShipments":[
                {{"Barcode":"3SDEVC987000002","Labels":[{{"Content":"{PDF_B64}","Labeltype":"Label"}}]}},
                {{"Barcode":"3SDEVC987000001","Labels":[],"Errors":[{{"code":"13801","description":"x"}}]}}
            ]}}"#
        );
        let r = parse_label_response(
            body.as_bytes(),
            &["3SDEVC987000001", "3SDEVC987000002", "3SDEVC987000003"],
        )
        .unwrap();
        assert_eq!(r.shipments[0].barcode, "3SDEVC987000001");
        assert!(matches!(
            r.shipments[0].outcome,
            Err(PostnlError::Rejected { .. })
        ));
        assert!(r.shipments[1].outcome.is_ok());
        assert!(matches!(
            r.shipments[2].outcome,
            Err(PostnlError::NoLabel { .. })
        ));
    }

    #[test]
    fn merged_labels_only_means_no_label_per_shipment() {
        let body = format!(
            r#"{{"MergedLabels":[{{"Barcodes":["3SDEVC820454271"],
                 "Labels":[{{"Content":"{PDF_B64}","Labeltype":"Label","OutputType":"PDF"}}]}}],
               "ResponseShipments":[{{"Barcode":"3SDEVC820454271","Errors":[],"Warnings":[],
                 "Labels":[],"ProductCodeDelivery":"3085"}}]}}"#
        );
        let r = parse_label_response(body.as_bytes(), &["3SDEVC820454271"]).unwrap();
        assert!(matches!(
            r.shipments[0].outcome,
            Err(PostnlError::NoLabel { .. })
        ));
    }

    /// Issue #19: a ZPL answer is read as ZPL, a PDF where ZPL was asked is refused
    /// (and the other way round), and the message names the printer type.
    #[test]
    fn zpl_labels_are_checked_as_zpl() {
        let zpl = "^XA^CI28\n^FO64,784^BY2^BCN,176,Y,N,N^FD3SDEVC987123456^FS\n^XZ\n";
        let zpl_b64 = base64::engine::general_purpose::STANDARD.encode(zpl);
        let body = |content: &str, output: &str| {
            format!(
                r#"{{"ResponseShipments":[{{"Barcode":"3SDEVC987123456",
                "Labels":[{{"Content":"{content}","Labeltype":"Label","OutputType":"{output}"}}]}}]}}"#
            )
        };
        let r = parse_label_response_as(
            body(&zpl_b64, "ZPL").as_bytes(),
            &["3SDEVC987123456"],
            Printer::Zpl200,
        )
        .unwrap();
        let labels = r.shipments[0].outcome.as_ref().unwrap();
        assert_eq!(labels[0].content, zpl.as_bytes());
        assert_eq!(labels[0].output_type.as_deref(), Some("ZPL"));
        // A PDF when ZPL was asked, and ZPL when a PDF was: that shipment has no label.
        let r = parse_label_response_as(
            body(PDF_B64, "PDF").as_bytes(),
            &["3SDEVC987123456"],
            Printer::Zpl300,
        )
        .unwrap();
        assert!(matches!(
            r.shipments[0].outcome,
            Err(PostnlError::BadLabel {
                reason: "the label content is not ZPL",
                ..
            })
        ));
        let r =
            parse_label_response(body(&zpl_b64, "ZPL").as_bytes(), &["3SDEVC987123456"]).unwrap();
        assert!(r.shipments[0].outcome.is_err());
        assert!(!is_zpl(b"^XA no end"));
        assert!(!is_zpl(b"%PDF-1.4"));
        assert!(is_zpl(b"  ^XA^XZ\r\n^XA^XZ\n"));

        let now = datetime!(2025-02-03 08:15:00 UTC);
        for (printer, want) in [
            (Printer::Pdf, "GraphicFile|PDF"),
            (Printer::Zpl200, "Zebra|Generic ZPL II 200 dpi"),
            (Printer::Zpl300, "Zebra|Generic ZPL II 300 dpi"),
        ] {
            let m = Message::new("Z1", now).unwrap().with_printer(printer);
            assert_eq!(m.printer(), printer);
            assert_eq!(serde_json::to_value(&m).unwrap()["Printertype"], want);
        }
    }

    #[test]
    fn bad_label_content_is_a_per_shipment_error() {
        let not_pdf = base64::engine::general_purpose::STANDARD.encode(b"GIF89a....");
        for content in [not_pdf.as_str(), "%%%not base64", ""] {
            let body = format!(
                r#"{{"ResponseShipments":[{{"Barcode":"3SDEVC987123456",
                    "Labels":[{{"Content":"{content}","Labeltype":"Label"}}]}}]}}"#
            );
            let r = parse_label_response(body.as_bytes(), &["3SDEVC987123456"]).unwrap();
            assert!(
                matches!(r.shipments[0].outcome, Err(PostnlError::BadLabel { .. })),
                "{content}"
            );
        }
    }

    #[test]
    fn base64_decoding_and_pdf_check() {
        assert_eq!(&decode_pdf(PDF_B64).unwrap()[..5], b"%PDF-");
        // Line-wrapped base64 is accepted.
        let wrapped = "JVBERi0x\nLjMKJeLj\r\nz9MK";
        assert_eq!(decode_pdf(wrapped).unwrap(), decode_pdf(PDF_B64).unwrap());
        assert_eq!(
            decode_pdf("R0lGODlh"),
            Err("the label content is not a PDF")
        );
        assert_eq!(
            decode_pdf("@@@"),
            Err("the label content is not valid base64")
        );
        assert_eq!(decode_pdf("  "), Err("the label content is empty"));
    }

    #[test]
    fn top_level_errors_in_200_are_a_rejection() {
        let body = br#"{"Errors":[{"Code":"1280202","Description":"Incorrect address"}]}"#;
        assert!(matches!(
            parse_label_response(body, &["3SDEVC987123456"]),
            Err(BodyError::Rejected(_))
        ));
        assert!(matches!(
            parse_label_response(b"{}", &["3SDEVC987123456"]),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            parse_label_response(br#"{"ResponseShipments":[{"Barc"#, &["3SDEVC987123456"]),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            parse_label_response(b"Service Unavailable", &["3SDEVC987123456"]),
            Err(BodyError::Malformed(_))
        ));
    }

    // --- error bodies ----------------------------------------------------------------

    #[test]
    fn error_body_400_labelling_shape() {
        let b = parse_error_body(
            br#"{"Errors":[{"Error":"Validation failed for shipment: 3SDEVC949511897",
                "Code":"1280202","Description":"Incorrect address specified in address type Sender"}]}"#,
        );
        assert_eq!(b.issues.len(), 1);
        assert_eq!(b.issues[0].code, "1280202");
        assert_eq!(
            b.issues[0].description.expose(),
            "Incorrect address specified in address type Sender"
        );
    }

    #[test]
    fn error_body_400_nested_and_barcode_shapes() {
        let nested = parse_error_body(
            br#"{"Errors":{"Error":[{"Code":"12213","Description":"a"},{"Code":"12214","Description":"b"}]}}"#,
        );
        let codes: Vec<_> = nested.issues.iter().map(|n| n.code.as_str()).collect();
        assert_eq!(codes, ["12213", "12214"]);

        let barcode = parse_error_body(
            br#"{"errors":[{"ErrorMsg":"Too many numbers in series","ErrorNumber":"8"}]}"#,
        );
        assert_eq!(barcode.issues[0].code, "8");
        assert_eq!(
            barcode.issues[0].description.expose(),
            "Too many numbers in series"
        );

        let other = parse_error_body(br#"{"Error":{"ErrorMessage":"m","ErrorCode":"99"}}"#);
        assert_eq!(other.issues[0].code, "99");

        let array = parse_error_body(br#"{"Array":{"Item":{"ErrorMsg":"m","ErrorNumber":7}}}"#);
        assert_eq!(array.issues[0].code, "7");

        let single = parse_error_body(br#"{"Errors":{"code":"5","description":"wrong"}}"#);
        assert_eq!(single.issues[0].code, "5");
    }

    #[test]
    fn error_body_fault_and_throttle_shapes() {
        let fault = parse_error_body(
            br#"{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}"#,
        );
        assert_eq!(fault.fault_code.as_deref(), Some("oauth.v2.InvalidApiKey"));
        assert!(fault.issues.is_empty());

        let missing = parse_error_body(
            br#"{"message":"Failed to resolve API Key variable 'request.header.apikey'","http_status_code":401}"#,
        );
        assert!(missing.issues.is_empty() && missing.fault_code.is_none());

        let throttled = parse_error_body(
            br#"{"message":"Too many requests. Rate limit exceeded!","http_status_code":429}"#,
        );
        assert!(throttled.issues.is_empty());

        assert!(parse_error_body(b"").issues.is_empty());
        assert!(parse_error_body(b"<html>oops</html>").issues.is_empty());
    }

    #[test]
    fn codes_are_cleaned() {
        assert_eq!(clean_code(" 1280103 "), "1280103");
        assert_eq!(
            clean_code("oauth.v2.InvalidApiKey"),
            "oauth.v2.InvalidApiKey"
        );
        assert_eq!(clean_code("Jan Jansen <x>"), "JanJansenx");
        assert_eq!(clean_code(&"9".repeat(100)).len(), 40);
    }
}
