//! PostNL Send & Track simulator: the PostNL half of the sandbox.
//!
//! This module owns what happens behind three PostNL paths once the sandbox core has routed
//! a request here (the core owns the HTTP server, clock, rate limits, injected faults and
//! recording):
//!
//! | path | method | operation |
//! |---|---|---|
//! | `/shipment/v1_1/barcode` | GET | `postnl.barcode`: reserve one barcode |
//! | `/shipment/v2_2/label?confirm=true\|false` | POST | `postnl.label`: validate, draw labels, optionally pre-announce |
//! | `/shipment/v2/confirm` | POST | `postnl.confirm`: pre-announce shipments labelled with `confirm=false` |
//! | `/shipment/checkout/v1/postalcodecheck` | GET | `postnl.postalcodecheck`: the postcode register (`postcode.rs`) |
//!
//! It keeps the state tests look at ([`PostnlState`]): every barcode issued, how many labels
//! were made per barcode (a client must never make two labels for one parcel), every
//! shipment accepted (the JSON as received) and whether it was confirmed.
//!
//! # Order of checks (every path)
//! 1. Body larger than 200 KB → HTTP 404 with an empty body (PostNL's documented answer).
//! 2. `apikey` header missing → 401 `{"message":"Failed to resolve API Key variable
//!    'request.header.apikey'","http_status_code":401}`; present but not [`API_KEY`] → 401
//!    `{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}`.
//! 3. Wrong method → 405 `{"message":"Only POST requests allowed","http_status_code":405}`
//!    (barcode: "Only GET requests allowed").
//! 4. Label/confirm body that is not JSON → 500 `{"fault":{"faultstring":"Unexpected token
//!    in object literal","detail":{"errorcode":"Validation Fault"}}}` (the OpenAPI files' 500).
//!
//! # Barcodes
//! `Type` 3S/2S: `Range` defaults to, and must equal, `CustomerCode` (1–4 capitals); the
//! barcode is Type + Range + the serie number padded to the width of the serie's upper
//! bound, and Type + Range + width must be 13 or 15 (`ABCD` + `987000000-987600000` → 15,
//! `ABCD` + `0000000-9999999` → 13). The serie must span at least 100 000 numbers.
//! GlobalPack types CC/CD/CP/CF (and CV/CL, seen in the wild): `Range` is the 4-digit
//! GlobalPack code, serie 4 digits; LA/UE/RI: `Range` is `NL`, serie 8 digits; both give
//! 13-character S10 barcodes (Type + 8 digits + S10 check digit + `NL`). Numbers are handed
//! out sequentially from a start point derived from the seed, skipping numbers already
//! issued, so they are unique and deterministic. Errors are 400 `{"errors":[{"ErrorMsg",
//! "ErrorNumber"}]}` with ErrorNumber 4 (missing), 5 (format), 8 ("Too many numbers in
//! series") or 13 (serie exhausted).
//!
//! # Label and confirm validation (HTTP 400)
//! Labelling answers `{"Errors":[{"Error","Code","Description"}]}` listing every problem
//! found; `Error` is "Validation failed for shipment: BARCODE" or "Validation failed for
//! request". Confirming answers its own documented 400 shape: `{"ResponseShipments":[{
//! "Barcode","Errors":[{"code","description"}],"Warnings":[]}]}`. Codes come from PostNL's
//! error table: 4 missing parameter, 5 wrong format or length, 6 out of range (more than 4
//! Shipments), 8 Customs on a domestic product, 16 unknown product, 17 body not a JSON
//! object, 10601 PO box receiver, 10602 no receiver, 1040001 Antwoordnummer receiver,
//! 1040102 no sender, 11502/11503 receiver city/street, 11504/16303/16304 weight,
//! 12209/12210 DeliveryDate, 12213/12214 Benelux house number/zipcode, 12804 AddressType,
//! 127{AT}03/05/06/07/08 country rules per product, 1280102/1280202 incorrect receiver/sender,
//! 13301/13304 evening/Sunday option on a non-NL product, 13701 COD, 14001/14002/14003
//! barcode, 10701 S10 barcode, 20502 barcode not issued by this sandbox (sandbox rule),
//! 16301 and 16308–16314 customs, 21201/21202/21205/21401 customer, 25001 option pairs,
//! 11{CT}04/06 contacts, 1270902/1280902 pickup point (AddressType 09). A request with any
//! problem gets no label at all, for none of its shipments. A `confirm` query value other
//! than true/false is a code 5 error too. `Dimension.Weight` may be a JSON integer or a
//! string of digits (PostNL's own example sends `"2000"`).
//!
//! Products and destinations follow NOTES §7: 3085-family and 2928/2929 NL only; 4946/4941/4912/4914/4936 BE only; 4907 and legacy 4940/4944/4950/4952
//! an EU country other than NL/BE; 4999 FR; 4909/4945/4947 outside the EU (Customs
//! required); PEPS 6440/6405 (UE), 6972/6350 (LA), 6906 (RI) anywhere but NL.
//!
//! # Documented triggers (synthetic, for client tests)
//! * `Reference` starting with `SANDBOX-ERR-200` → that shipment fails inside an HTTP 200:
//!   `Errors:[{"Code":"13","Description":"Exception occured: no label could be made for
//!   this shipment"}]`, `Labels:[]`; other shipments in the request still get labels.
//! * `ProductCodeDelivery` `4905` (UK DDP / US DDU, a separate contract) → the same in-200
//!   form with `{"Code":"111","Description":"No label available, Direct Infeed"}`.
//! * `Reference` starting with `SANDBOX-SINGLE-OBJECT` on any shipment → the whole answer
//!   collapses one-element arrays into objects, as PostNL sometimes does:
//!   `"ResponseShipments":{…}`, `"Labels":{…}`, `"Warnings":{…}`, plus `"DownPartnerLocation":{}`.
//! * `Reference` starting with `SANDBOX-WARN`, or an NL receiver with Zipcode `9999ZZ` →
//!   warning `{"Code":"1280103","Description":"Address is unknown"}`; the label is still made.
//! * `MessageID` starting with `SBXNEST` → a labelling 400 uses the nested variant
//!   `{"Errors":{"Error":[{"ErrorMsg","ErrorNumber"}]}}`.
//! * `Reference` starting with `SANDBOX-GROUP-INSURED` on a child collo of a multi-collo
//!   group → refused as if it carried an insurance amount (21005, "Child shipment cannot
//!   contain an insurance amount"), as PostNL does for an account that insures every
//!   parcel; fulfil itself never sends `Amounts` (issue #19).
//! * Warnings that real PostNL gives are kept: missing ContactType → 17811, Email longer
//!   than 50 → 11{CT}07, insured amount on a non-insured product → 17810.
//!
//! # Output
//! `Printertype` `GraphicFile|PDF` gives one A6 PDF per label (`Labeltype` "Label", or
//! "BusPakjeExtra" for 2928/2929; non-EU products get "CN23" and "CP71", plus
//! "CommercialInvoice" for commercial goods). `GraphicFile|PDF|MergeA..D` fills
//! `MergedLabels` with one A4 PDF (start slot A..D = top-left, top-right, bottom-left,
//! bottom-right) and leaves per-shipment Labels empty. `Zebra|Generic ZPL II N dpi` gives
//! ZPL text. GIF and JPG printer types are valid PostNL values the sandbox cannot draw: it
//! answers 400 code 5 saying so.
//!
//! Nothing here panics on request data: every field is read through checked accessors.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::label_pdf::{self, LabelAddress, LabelKind, LabelSpec};
use super::{Request, Response};

/// The only `apikey` the PostNL sandbox accepts.
pub(crate) const API_KEY: &str = "sandbox-postnl-apikey";

/// Largest request body PostNL accepts (200 KB); larger ones get HTTP 404.
pub(crate) const MAX_BODY_BYTES: usize = 200 * 1024;
/// Largest number of `Shipments` in one labelling or confirming request.
pub(crate) const MAX_SHIPMENTS: usize = 4;

const BARCODE_PATH: &str = "/shipment/v1_1/barcode";
const LABEL_PATH: &str = "/shipment/v2_2/label";
const CONFIRM_PATH: &str = "/shipment/v2/confirm";

/// `Reference` prefix: the shipment fails inside an HTTP 200 answer.
pub(crate) const TRIGGER_ERROR_IN_200: &str = "SANDBOX-ERR-200";
/// `Reference` prefix: one-element arrays in the answer become single objects.
pub(crate) const TRIGGER_SINGLE_OBJECT: &str = "SANDBOX-SINGLE-OBJECT";
/// `Reference` prefix: warning 1280103 "Address is unknown".
pub(crate) const TRIGGER_WARNING: &str = "SANDBOX-WARN";
/// NL receiver zipcode that PostNL's address check "does not know".
pub(crate) const UNKNOWN_ZIPCODE: &str = "9999ZZ";
/// `MessageID` prefix: a labelling 400 uses the nested `Errors.Error` shape.
pub(crate) const TRIGGER_NESTED_ERRORS: &str = "SBXNEST";
/// `Reference` prefix: a child collo counts as insured (refused, 21005).
pub(crate) const TRIGGER_GROUP_INSURED: &str = "SANDBOX-GROUP-INSURED";

const EU_OTHER_THAN_NL_BE: [&str; 25] = [
    "AT", "BG", "HR", "CY", "DK", "EE", "FI", "FR", "DE", "SI", "GR", "HU", "IE", "IT", "LV", "LT",
    "LU", "MT", "CZ", "PL", "PT", "RO", "SK", "ES", "SE",
];

// ---------------------------------------------------------------------------------------
// State

/// A barcode handed out by the barcode service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuedBarcode {
    pub barcode: String,
    /// `Type` as requested: 3S, 2S, CC, LA, …
    pub barcode_type: String,
    pub customer_code: String,
    pub customer_number: String,
}

/// A shipment the sandbox accepted, from a label or a confirm call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReceivedShipment {
    pub barcode: String,
    pub product_code: String,
    /// The shipment object exactly as it arrived.
    pub shipment: Value,
    /// Whether a label was made for it (false when it came in through confirm only).
    pub labelled: bool,
    /// Whether it has been pre-announced (label with `confirm=true`, or a later confirm).
    pub confirmed: bool,
}

/// Everything the PostNL sandbox remembers between requests.
#[derive(Debug)]
pub(crate) struct PostnlState {
    seed: u64,
    next_offset: BTreeMap<String, u64>,
    issued: Vec<IssuedBarcode>,
    issued_index: BTreeMap<String, usize>,
    labels_made: BTreeMap<String, u32>,
    last_label: BTreeMap<String, Vec<u8>>,
    shipments: Vec<ReceivedShipment>,
}

impl PostnlState {
    /// A fresh sandbox; `seed` fixes where barcode numbering starts.
    pub fn new(seed: u64) -> Self {
        PostnlState {
            seed,
            next_offset: BTreeMap::new(),
            issued: Vec::new(),
            issued_index: BTreeMap::new(),
            labels_made: BTreeMap::new(),
            last_label: BTreeMap::new(),
            shipments: Vec::new(),
        }
    }
}

// Read accessors for tests, here and in the core.
#[allow(dead_code)]
impl PostnlState {
    /// Barcodes issued so far, oldest first.
    pub fn issued_barcodes(&self) -> Vec<&str> {
        self.issued.iter().map(|b| b.barcode.as_str()).collect()
    }

    /// Barcodes issued so far with what they were issued for.
    pub fn issued(&self) -> &[IssuedBarcode] {
        &self.issued
    }

    /// How many labels were made for `barcode` (0 when none).
    pub fn labels_made(&self, barcode: &str) -> u32 {
        self.labels_made.get(barcode).copied().unwrap_or(0)
    }

    /// Label counts per barcode, for every barcode that got at least one.
    pub fn label_counts(&self) -> &BTreeMap<String, u32> {
        &self.labels_made
    }

    /// The first document of the most recent label answer for `barcode`.
    pub fn last_label(&self, barcode: &str) -> Option<&[u8]> {
        self.last_label.get(barcode).map(Vec::as_slice)
    }

    /// Every shipment accepted, in arrival order.
    pub fn shipments(&self) -> &[ReceivedShipment] {
        &self.shipments
    }

    /// Whether any accepted shipment with `barcode` has been pre-announced.
    pub fn is_confirmed(&self, barcode: &str) -> bool {
        self.shipments
            .iter()
            .any(|s| s.barcode == barcode && s.confirmed)
    }
}

// ---------------------------------------------------------------------------------------
// Entry points

/// The operation name of a PostNL path, or `None` for paths that are not PostNL's.
pub(crate) fn operation(req: &Request) -> Option<&'static str> {
    match req.path.as_str() {
        BARCODE_PATH => Some("postnl.barcode"),
        LABEL_PATH => Some("postnl.label"),
        CONFIRM_PATH => Some("postnl.confirm"),
        super::postcode::PATH => Some("postnl.postalcodecheck"),
        _ => None,
    }
}

/// PostNL's own answer to a request over the rate limit.
pub(crate) fn throttled() -> Response {
    Response::json(
        429,
        &json!({"message": "Too many requests. Rate limit exceeded!", "http_status_code": 429}),
    )
}

/// Answers one request to a PostNL path.
pub(crate) fn handle(state: &mut PostnlState, req: &Request, now: OffsetDateTime) -> Response {
    let Some(op) = operation(req) else {
        return Response::json(
            404,
            &json!({"message": "Resource not found", "http_status_code": 404}),
        );
    };
    if req.body.len() > MAX_BODY_BYTES {
        return Response {
            status: 404,
            headers: Vec::new(),
            body: Vec::new(),
        };
    }
    match req.header("apikey") {
        None => {
            return Response::json(
                401,
                &json!({
                    "message": "Failed to resolve API Key variable 'request.header.apikey'",
                    "http_status_code": 401
                }),
            );
        }
        Some(key) if key != API_KEY => {
            return Response::json(
                401,
                &json!({"fault": {
                    "faultstring": "Invalid ApiKey",
                    "detail": {"errorcode": "oauth.v2.InvalidApiKey"}
                }}),
            );
        }
        Some(_) => {}
    }
    let wanted = if matches!(op, "postnl.barcode" | "postnl.postalcodecheck") {
        "GET"
    } else {
        "POST"
    };
    if !req.method.eq_ignore_ascii_case(wanted) {
        return Response::json(
            405,
            &json!({"message": format!("Only {wanted} requests allowed"), "http_status_code": 405}),
        );
    }
    match op {
        "postnl.barcode" => barcode(state, req),
        "postnl.label" => label(state, req, now),
        "postnl.postalcodecheck" => super::postcode::answer(req),
        _ => confirm(state, req),
    }
}

// ---------------------------------------------------------------------------------------
// Barcode service

fn barcode_error(number: &str, message: &str) -> Response {
    Response::json(
        400,
        &json!({"errors": [{"ErrorMsg": message, "ErrorNumber": number}]}),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BarcodeFamily {
    /// 3S and 2S: Type + customer code + serie digits.
    Kix,
    /// CC/CD/CP/CF/CV/CL: Type + GlobalPack code + serie + check digit + NL.
    GlobalPack,
    /// LA/UE/RI: Type + serie + check digit + NL.
    Peps,
}

fn barcode_family(kind: &str) -> Option<BarcodeFamily> {
    match kind {
        "3S" | "2S" => Some(BarcodeFamily::Kix),
        "CC" | "CD" | "CP" | "CF" | "CV" | "CL" => Some(BarcodeFamily::GlobalPack),
        "LA" | "UE" | "RI" => Some(BarcodeFamily::Peps),
        _ => None,
    }
}

/// A parsed `Serie`: inclusive bounds and the digit width of the upper bound.
struct Serie {
    low: u64,
    high: u64,
    width: usize,
}

fn parse_serie(text: &str) -> Option<Serie> {
    let (low, high) = text.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(low) || !digits(high) || low.len() > high.len() {
        return None;
    }
    let (low_n, high_n) = (low.parse().ok()?, high.parse().ok()?);
    (low_n <= high_n).then_some(Serie {
        low: low_n,
        high: high_n,
        width: high.len(),
    })
}

/// UPU S10 check digit over eight digits.
fn s10_check_digit(digits: &str) -> Option<u32> {
    const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    if digits.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (ch, weight) in digits.chars().zip(WEIGHTS) {
        sum += ch.to_digit(10)? * weight;
    }
    Some(match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        other => other,
    })
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn barcode(state: &mut PostnlState, req: &Request) -> Response {
    let param = |name| {
        req.query_param(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let Some(customer_code) = param("CustomerCode") else {
        return barcode_error("4", "Required parameter 'CustomerCode' is missing.");
    };
    let Some(customer_number) = param("CustomerNumber") else {
        return barcode_error("4", "Required parameter 'CustomerNumber' is missing.");
    };
    let Some(kind) = param("Type") else {
        return barcode_error("4", "Required parameter 'Type' is missing.");
    };
    if customer_code.chars().count() > 6 {
        return barcode_error(
            "5",
            &format!(
                "Value '{}' is not in the correct format '1-6 characters'.",
                shown(customer_code)
            ),
        );
    }
    if customer_number.len() > 8 || !customer_number.bytes().all(|b| b.is_ascii_digit()) {
        return barcode_error(
            "5",
            &format!(
                "Value '{}' is not in the correct format '1-8 digits'.",
                shown(customer_number)
            ),
        );
    }
    let Some(family) = barcode_family(kind) else {
        return barcode_error(
            "5",
            &format!(
                "Value '{}' is not in the correct format '2S|3S|CC|CD|CP|CF|CV|CL|LA|RI|UE'.",
                shown(kind)
            ),
        );
    };
    let range = match (family, param("Range")) {
        (BarcodeFamily::Kix, None) => customer_code,
        (BarcodeFamily::Peps, None) => "NL",
        (BarcodeFamily::GlobalPack, None) => {
            return barcode_error("4", "Required parameter 'Range' is missing.");
        }
        (_, Some(range)) => range,
    };
    let range_ok = match family {
        BarcodeFamily::Kix => {
            range == customer_code
                && (1..=4).contains(&range.len())
                && range.bytes().all(|b| b.is_ascii_uppercase())
        }
        BarcodeFamily::GlobalPack => range.len() == 4 && range.bytes().all(|b| b.is_ascii_digit()),
        BarcodeFamily::Peps => range == "NL",
    };
    if !range_ok {
        let expected = match family {
            BarcodeFamily::Kix => "the CustomerCode, 1-4 capital letters",
            BarcodeFamily::GlobalPack => "the 4-digit GlobalPack code",
            BarcodeFamily::Peps => "NL",
        };
        return barcode_error(
            "5",
            &format!(
                "Value '{}' is not in the correct format '{expected}'.",
                shown(range)
            ),
        );
    }
    let default_serie;
    let serie_text = if let Some(text) = param("Serie") {
        text
    } else {
        let width = match family {
            BarcodeFamily::Kix => 11usize.saturating_sub(range.len()),
            BarcodeFamily::GlobalPack => 4,
            BarcodeFamily::Peps => 8,
        };
        default_serie = format!("{}-{}", "0".repeat(width), "9".repeat(width));
        default_serie.as_str()
    };
    let Some(serie) = parse_serie(serie_text) else {
        return barcode_error(
            "5",
            &format!(
                "Value '{}' is not in the correct format 'from-to, digits only, from <= to'.",
                shown(serie_text)
            ),
        );
    };
    let length = match family {
        BarcodeFamily::Kix => kind.len() + range.len() + serie.width,
        BarcodeFamily::GlobalPack => kind.len() + range.len() + serie.width + 3,
        BarcodeFamily::Peps => kind.len() + serie.width + 3,
    };
    let allowed: &[usize] = if family == BarcodeFamily::Kix {
        &[13, 15]
    } else {
        &[13]
    };
    if length > 15 {
        return barcode_error("8", "Too many numbers in series");
    }
    if !allowed.contains(&length) {
        return barcode_error(
            "5",
            &format!(
                "Value '{}' is not in the correct format 'a serie giving a {} barcode of {} characters'.",
                shown(serie_text),
                kind,
                if family == BarcodeFamily::Kix {
                    "13 or 15"
                } else {
                    "13"
                }
            ),
        );
    }
    if family == BarcodeFamily::Kix && serie.high - serie.low < 100_000 {
        return barcode_error(
            "5",
            &format!(
                "Value '{}' is not in the correct format 'a serie spanning at least 100000 numbers'.",
                shown(serie_text)
            ),
        );
    }

    let span = serie.high - serie.low + 1;
    let key = format!(
        "{kind}|{range}|{}|{}|{}",
        serie.width, serie.low, serie.high
    );
    let start = splitmix(
        state.seed
            ^ splitmix(
                key.bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
            ),
    ) % span.min(1000);
    let mut counter = state.next_offset.get(&key).copied().unwrap_or(0);
    let made = loop {
        if counter >= span {
            state.next_offset.insert(key, counter);
            return barcode_error("13", "Exception occured: the serie is exhausted.");
        }
        let number = serie.low + (start + counter) % span;
        counter += 1;
        let digits = format!("{number:0width$}", width = serie.width);
        let candidate = match family {
            BarcodeFamily::Kix => format!("{kind}{range}{digits}"),
            BarcodeFamily::GlobalPack | BarcodeFamily::Peps => {
                let body = if family == BarcodeFamily::GlobalPack {
                    format!("{range}{digits}")
                } else {
                    digits
                };
                let Some(check) = s10_check_digit(&body) else {
                    return barcode_error("5", "Serie does not give 8 digits.");
                };
                format!("{kind}{body}{check}NL")
            }
        };
        if !state.issued_index.contains_key(&candidate) {
            break candidate;
        }
    };
    state.next_offset.insert(key, counter);
    state.issued_index.insert(made.clone(), state.issued.len());
    state.issued.push(IssuedBarcode {
        barcode: made.clone(),
        barcode_type: kind.to_owned(),
        customer_code: customer_code.to_owned(),
        customer_number: customer_number.to_owned(),
    });
    Response::json(200, &json!({"Barcode": made}))
}

// ---------------------------------------------------------------------------------------
// Products

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Zone {
    /// Netherlands only.
    Nl,
    /// Belgium only.
    Be,
    /// An EU country other than NL and BE.
    Eu,
    /// France only (4999).
    Fr,
    /// Outside the EU, with customs.
    NonEu,
    /// Outside the EU, separate contract (4905): always fails inside a 200.
    DirectInfeed,
    /// Small international packets: anywhere but NL.
    Peps(&'static str),
}

#[derive(Clone, Copy, Debug)]
struct Product {
    code: &'static str,
    zone: Zone,
    letterbox: bool,
    insured: bool,
    pickup: bool,
    options: OptionRule,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum OptionRule {
    None,
    TrackAndConsumerType,
    Track,
}

const LETTERBOX: u8 = 1;
const INSURED: u8 = 2;
const PICKUP: u8 = 4;
/// Needs a Track & Trace option and 101-012/013 (4907).
const TRACK_AND_TYPE: u8 = 8;
/// Needs a Track & Trace option (4909).
const TRACK: u8 = 16;

const fn product(code: &'static str, zone: Zone, flags: u8) -> Product {
    Product {
        code,
        zone,
        letterbox: flags & LETTERBOX != 0,
        insured: flags & INSURED != 0,
        pickup: flags & PICKUP != 0,
        options: if flags & TRACK_AND_TYPE != 0 {
            OptionRule::TrackAndConsumerType
        } else if flags & TRACK != 0 {
            OptionRule::Track
        } else {
            OptionRule::None
        },
    }
}

#[rustfmt::skip]
const PRODUCTS: [Product; 40] = [
    product("3085", Zone::Nl, 0),
    product("3385", Zone::Nl, 0),
    product("3090", Zone::Nl, 0),
    product("3390", Zone::Nl, 0),
    product("3189", Zone::Nl, 0),
    product("3089", Zone::Nl, 0),
    product("3389", Zone::Nl, 0),
    product("3096", Zone::Nl, 0),
    product("3087", Zone::Nl, INSURED),
    product("3094", Zone::Nl, INSURED),
    product("2928", Zone::Nl, LETTERBOX),
    product("2929", Zone::Nl, LETTERBOX),
    product("3438", Zone::Nl, 0),
    product("3443", Zone::Nl, 0),
    product("3446", Zone::Nl, 0),
    product("3449", Zone::Nl, 0),
    product("3533", Zone::Nl, PICKUP),
    product("3534", Zone::Nl, PICKUP),
    product("3543", Zone::Nl, PICKUP),
    product("3544", Zone::Nl, PICKUP),
    product("4946", Zone::Be, 0),
    product("4941", Zone::Be, 0),
    product("4912", Zone::Be, 0),
    product("4914", Zone::Be, INSURED),
    product("4936", Zone::Be, PICKUP),
    product("4907", Zone::Eu, TRACK_AND_TYPE),
    product("4940", Zone::Eu, 0),
    product("4944", Zone::Eu, 0),
    product("4950", Zone::Eu, 0),
    product("4952", Zone::Eu, 0),
    product("4999", Zone::Fr, 0),
    product("4909", Zone::NonEu, TRACK),
    product("4945", Zone::NonEu, 0),
    product("4947", Zone::NonEu, 0),
    product("4905", Zone::DirectInfeed, 0),
    product("6440", Zone::Peps("UE"), 0),
    product("6405", Zone::Peps("UE"), 0),
    product("6972", Zone::Peps("LA"), 0),
    product("6350", Zone::Peps("LA"), 0),
    product("6906", Zone::Peps("RI"), 0),
];

fn find_product(code: &str) -> Option<Product> {
    PRODUCTS.iter().find(|p| p.code == code).copied()
}

// ---------------------------------------------------------------------------------------
// Reading JSON without trusting it

enum Field<'a> {
    Absent,
    Text(&'a str),
    Other(&'a Value),
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Field<'a> {
    match obj.get(key) {
        None | Some(Value::Null) => Field::Absent,
        Some(Value::String(s)) => Field::Text(s),
        Some(other) => Field::Other(other),
    }
}

/// A string field as text, "" when absent or not a string (for printing only).
fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// At most 40 characters of a value, for error descriptions.
fn shown(value: &str) -> String {
    let mut out: String = value.chars().take(40).collect();
    if value.chars().nth(40).is_some() {
        out.push_str("...");
    }
    out
}

fn shown_value(value: &Value) -> String {
    match value {
        Value::String(s) => shown(s),
        Value::Array(_) => "[...]".to_owned(),
        Value::Object(_) => "{...}".to_owned(),
        other => shown(&other.to_string()),
    }
}

fn is_timestamp(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 19 {
        return false;
    }
    let shape_ok = b.iter().enumerate().all(|(i, &c)| match i {
        2 | 5 => c == b'-',
        10 => c == b' ',
        13 | 16 => c == b':',
        _ => c.is_ascii_digit(),
    });
    let format = time::macros::format_description!("[day]-[month]-[year] [hour]:[minute]:[second]");
    shape_ok && time::PrimitiveDateTime::parse(value, &format).is_ok()
}

/// An integer ≥ 0 sent as a JSON number or as a string of digits (PostNL's own examples
/// send `"Weight": "2000"`).
enum Count {
    Absent,
    Value(u64),
    Negative,
    NotInteger,
}

fn count(obj: &Map<String, Value>, key: &str) -> Count {
    match obj.get(key) {
        None | Some(Value::Null) => Count::Absent,
        Some(Value::Number(n)) => {
            if let Some(v) = n.as_u64() {
                Count::Value(v)
            } else if n.as_i64().is_some() {
                Count::Negative
            } else {
                Count::NotInteger
            }
        }
        Some(Value::String(s)) if s.is_empty() => Count::Absent,
        Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_or(Count::NotInteger, Count::Value)
        }
        Some(_) => Count::NotInteger,
    }
}

// ---------------------------------------------------------------------------------------
// Validation

/// One validation error, tied to a shipment when it concerns one.
#[derive(Debug, Clone)]
struct Problem {
    shipment: Option<usize>,
    code: String,
    description: String,
}

/// A warning or an in-200 error: `{Code, Description}`.
#[derive(Debug, Clone)]
struct Notice {
    code: String,
    description: String,
}

impl Notice {
    fn new(code: impl Into<String>, description: impl Into<String>) -> Self {
        Notice {
            code: code.into(),
            description: description.into(),
        }
    }
}

const MAX_PROBLEMS: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Label,
    Confirm,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Output {
    Pdf,
    Merge(usize),
    Zpl(u32),
}

struct Checker<'s> {
    state: &'s PostnlState,
    endpoint: Endpoint,
    problems: Vec<Problem>,
    scope: Option<usize>,
}

/// A shipment that passed validation, with what the answer and the label need.
struct Accepted<'a> {
    raw: &'a Value,
    barcode: String,
    product: Product,
    receiver: &'a Map<String, Value>,
    sender: Option<&'a Map<String, Value>>,
    reference: String,
    weight: Option<u64>,
    commercial: bool,
    warnings: Vec<Notice>,
}

struct Checked<'a> {
    output: Output,
    shipments: Vec<Accepted<'a>>,
}

impl Checker<'_> {
    fn fail(&mut self, code: impl Into<String>, description: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                shipment: self.scope,
                code: code.into(),
                description: description.into(),
            });
        }
    }

    fn missing(&mut self, path: &str) {
        self.fail("4", format!("Required parameter '{path}' is missing."));
    }

    fn bad_format(&mut self, path: &str, value: &str, format: &str) {
        self.fail(
            "5",
            format!(
                "Value '{}' of '{path}' is not in the correct format '{format}'.",
                shown(value)
            ),
        );
    }

    fn wrong_type(&mut self, path: &str, value: &Value, expected: &str) {
        self.bad_format(path, &shown_value(value), expected);
    }

    /// An optional string field; reports non-strings and over-long values.
    fn opt_text<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        path: &str,
        max: usize,
    ) -> Option<&'a str> {
        match field(obj, key) {
            Field::Absent => None,
            Field::Other(v) => {
                self.wrong_type(&format!("{path}.{key}"), v, "string");
                None
            }
            Field::Text(s) => {
                if s.chars().count() > max {
                    self.bad_format(
                        &format!("{path}.{key}"),
                        s,
                        &format!("max {max} characters"),
                    );
                }
                Some(s)
            }
        }
    }

    /// A required string field; "" counts as missing. Reports with `missing_code` or 4.
    fn req_text<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        path: &str,
        max: usize,
        missing: Option<(&str, &str)>,
    ) -> Option<&'a str> {
        if let Some(s) = self.opt_text(obj, key, path, max)
            && !s.trim().is_empty()
        {
            return Some(s);
        }
        // A value of the wrong type has been reported already.
        if !matches!(field(obj, key), Field::Other(_)) {
            match missing {
                Some((code, description)) => self.fail(code, description),
                None => self.missing(&format!("{path}.{key}")),
            }
        }
        None
    }

    fn object<'a>(
        &mut self,
        value: Option<&'a Value>,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match value {
            None | Some(Value::Null) => {
                self.missing(path);
                None
            }
            Some(Value::Object(map)) => Some(map),
            Some(other) => {
                self.wrong_type(path, other, "object");
                None
            }
        }
    }

    // -- top level ------------------------------------------------------------------

    fn request<'a>(&mut self, body: &'a Value) -> Option<Checked<'a>> {
        let Some(root) = body.as_object() else {
            self.fail(
                "17",
                "Message validation failed due to incorrect message format",
            );
            return None;
        };
        let customer = self.object(root.get("Customer"), "Customer");
        let customer_code = customer.and_then(|c| self.customer(c));
        let sender = customer.and_then(|c| match c.get("Address") {
            None | Some(Value::Null) => None,
            Some(Value::Object(addr)) => {
                self.sender(addr, "Customer.Address");
                Some(addr)
            }
            Some(other) => {
                self.wrong_type("Customer.Address", other, "object");
                None
            }
        });
        let message = self.object(root.get("Message"), "Message");
        let output = message.map_or(Output::Pdf, |m| self.message(m));

        let shipments = match root.get("Shipments") {
            None | Some(Value::Null) => {
                self.missing("Shipments");
                return None;
            }
            Some(Value::Array(list)) if list.is_empty() => {
                self.missing("Shipments");
                return None;
            }
            Some(Value::Array(list)) => list,
            Some(other) => {
                self.wrong_type("Shipments", other, "array");
                return None;
            }
        };
        if shipments.len() > MAX_SHIPMENTS {
            self.fail(
                "6",
                format!(
                    "Value '{}' of 'Shipments' (number of shipments) is not in the correct range '1 - {MAX_SHIPMENTS}'.",
                    shipments.len()
                ),
            );
            return None;
        }
        let mut accepted = Vec::new();
        for (i, raw) in shipments.iter().enumerate() {
            self.scope = Some(i);
            if let Some(a) = self.shipment(i, raw, customer_code, sender) {
                accepted.push(a);
            }
            self.scope = None;
        }
        Some(Checked {
            output,
            shipments: accepted,
        })
    }

    fn customer<'a>(&mut self, c: &'a Map<String, Value>) -> Option<&'a str> {
        let code = match field(c, "CustomerCode") {
            Field::Text(s) if !s.trim().is_empty() => {
                if s.chars().count() > 6 {
                    self.fail(
                        "21205",
                        "Field Customer code exceeds the maximum of 6 characters",
                    );
                }
                Some(s)
            }
            Field::Other(v) => {
                self.wrong_type("Customer.CustomerCode", v, "string");
                None
            }
            _ => {
                self.fail("21202", "Customer code is required");
                None
            }
        };
        match field(c, "CustomerNumber") {
            Field::Text(s) if !s.trim().is_empty() => {
                if s.len() > 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    self.bad_format("Customer.CustomerNumber", s, "1-8 digits");
                }
            }
            Field::Other(v) => self.wrong_type("Customer.CustomerNumber", v, "string"),
            _ => self.fail(
                "21201",
                "Customer number, small business number or consumer number is required",
            ),
        }
        if let Some(loc) = self.opt_text(c, "CollectionLocation", "Customer", usize::MAX)
            && (loc.len() != 6 || !loc.bytes().all(|b| b.is_ascii_digit()))
        {
            self.fail(
                "21401",
                "BLS code, CollectionLocation, must be an integer and must have a length of 6 positions.",
            );
        }
        self.opt_text(c, "ContactPerson", "Customer", usize::MAX);
        self.opt_text(c, "Email", "Customer", 50);
        self.opt_text(c, "Name", "Customer", 35);
        code
    }

    fn message(&mut self, m: &Map<String, Value>) -> Output {
        self.req_text(m, "MessageID", "Message", 12, None);
        if let Some(stamp) = self.req_text(m, "MessageTimeStamp", "Message", usize::MAX, None)
            && !is_timestamp(stamp)
        {
            self.bad_format("Message.MessageTimeStamp", stamp, "dd-MM-yyyy HH:mm:ss");
        }
        if self.endpoint == Endpoint::Label {
            match self.req_text(m, "Printertype", "Message", usize::MAX, None) {
                Some(kind) => self.printer(kind),
                None => Output::Pdf,
            }
        } else {
            Output::Pdf
        }
    }

    fn printer(&mut self, kind: &str) -> Output {
        let merge = kind.strip_prefix("GraphicFile|PDF|Merge");
        let zpl = kind.strip_prefix("Zebra|Generic ZPL II ");
        let dpi = |s: &str| match s {
            "200 dpi" => Some(8),
            "300 dpi" => Some(12),
            "600 dpi" => Some(24),
            _ => None,
        };
        if kind == "GraphicFile|PDF" {
            return Output::Pdf;
        }
        if let Some(slot) = merge.and_then(|l| ["A", "B", "C", "D"].iter().position(|x| *x == l)) {
            return Output::Merge(slot);
        }
        if let Some(d) = zpl.and_then(dpi) {
            return Output::Zpl(d);
        }
        let picture = kind
            .strip_prefix("GraphicFile|GIF ")
            .or_else(|| kind.strip_prefix("GraphicFile|JPG "));
        if picture.and_then(dpi).is_some() {
            self.fail(
                "5",
                format!(
                    "Printertype '{kind}' is valid at PostNL but this sandbox draws only PDF and ZPL labels."
                ),
            );
        } else {
            self.bad_format(
                "Message.Printertype",
                kind,
                "GraphicFile|PDF, GraphicFile|PDF|MergeA-D, GraphicFile|GIF or JPG 200/300/600 dpi, Zebra|Generic ZPL II 200/300/600 dpi",
            );
        }
        Output::Pdf
    }

    /// Address fields every address type shares: type, country, lengths.
    fn address_common(
        &mut self,
        a: &Map<String, Value>,
        path: &str,
    ) -> (Option<String>, Option<String>) {
        let kind = match field(a, "AddressType") {
            Field::Absent => {
                self.fail("12804", "AddressType is required");
                None
            }
            Field::Other(v) => {
                self.wrong_type(&format!("{path}.AddressType"), v, "2 digits");
                None
            }
            Field::Text(s) if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) => {
                Some(s.to_owned())
            }
            Field::Text(s) => {
                self.bad_format(&format!("{path}.AddressType"), s, "2 digits");
                None
            }
        };
        let at = kind.clone().unwrap_or_else(|| "00".to_owned());
        let country = match field(a, "Countrycode") {
            Field::Text(s) if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) => {
                Some(s.to_owned())
            }
            Field::Text(s) if !s.is_empty() => {
                self.bad_format(
                    &format!("{path}.Countrycode"),
                    s,
                    "ISO 3166-1 alpha-2, upper case",
                );
                None
            }
            Field::Other(v) => {
                self.wrong_type(&format!("{path}.Countrycode"), v, "string");
                None
            }
            _ => {
                self.fail(
                    format!("127{at}03"),
                    format!("Country of AddressType {at} is required"),
                );
                None
            }
        };
        for (key, max) in [
            ("Area", 35),
            ("Buildingname", 35),
            ("City", 35),
            ("CompanyName", 35),
            ("Department", 35),
            ("Doorcode", 35),
            ("FirstName", 35),
            ("Floor", 35),
            ("HouseNr", 35),
            ("HouseNrExt", 35),
            ("Name", 35),
            ("Region", 35),
            ("Street", 95),
            ("StreetHouseNrExt", usize::MAX),
            ("Zipcode", 17),
        ] {
            self.opt_text(a, key, path, max);
        }
        (kind, country)
    }

    fn sender(&mut self, a: &Map<String, Value>, path: &str) {
        let (kind, _) = self.address_common(a, path);
        if kind.as_deref().is_some_and(|k| k != "02") {
            self.fail(
                "1280202",
                format!(
                    "Incorrect address specified in AddressType 02: {path}.AddressType must be 02"
                ),
            );
        }
        if text(a, "City").trim().is_empty() {
            self.fail(
                "1280202",
                format!("Incorrect address specified in AddressType 02: {path}.City is required"),
            );
        }
    }

    fn receiver(
        &mut self,
        a: &Map<String, Value>,
        path: &str,
        country: Option<&str>,
    ) -> Vec<Notice> {
        let mut warnings = Vec::new();
        let incorrect = |what: &str| {
            (
                "1280102".to_owned(),
                format!("Incorrect address specified in AddressType 01: {what}"),
            )
        };
        let name = text(a, "Name").trim();
        let company = text(a, "CompanyName").trim();
        if name.is_empty() && company.is_empty() {
            let (c, d) = incorrect("Name or CompanyName is required");
            self.fail(c, d);
        }
        let street = text(a, "Street").trim();
        let combined = text(a, "StreetHouseNrExt").trim();
        match (street.is_empty(), combined.is_empty()) {
            (true, true) => self.fail("11503", "Receiver street is required"),
            (false, false) => {
                let (c, d) = incorrect("send Street or StreetHouseNrExt, not both");
                self.fail(c, d);
            }
            _ => {}
        }
        if !combined.is_empty() && !matches!(country, Some("NL" | "BE" | "DE") | None) {
            let (c, d) = incorrect("StreetHouseNrExt is only split for NL, BE and DE");
            self.fail(c, d);
        }
        let street_text = if street.is_empty() { combined } else { street };
        if is_po_box(street_text) {
            self.fail("10601", "Receiver address cannot be a postal box");
        } else if first_word(street_text).eq_ignore_ascii_case("antwoordnummer") {
            self.fail(
                "1040001",
                "An Antwoordnummer is not allowed for AddressType 01",
            );
        }
        if text(a, "City").trim().is_empty() {
            self.fail("11502", "Receiver city is required");
        }
        let benelux = matches!(country, Some("NL" | "BE" | "LU"));
        let house = text(a, "HouseNr").trim();
        if benelux {
            if house.is_empty() {
                if combined.is_empty() {
                    self.fail("12213", "Receiver House Number is missing");
                }
            } else if house.len() > 5 || !house.bytes().all(|b| b.is_ascii_digit()) {
                self.bad_format(&format!("{path}.HouseNr"), house, "1-5 digits (Benelux)");
            }
        }
        let zipcode = text(a, "Zipcode");
        if zipcode.trim().is_empty() {
            if benelux {
                self.fail("12214", "Receiver Post Code is missing");
            }
        } else {
            let rule = match country {
                Some("NL") => Some((is_nl_zipcode(zipcode), "1234AB, no space")),
                Some("BE" | "LU") => Some((
                    is_digits(zipcode, 4) && !zipcode.starts_with('0'),
                    "4 digits",
                )),
                Some("DE") => Some((is_digits(zipcode, 5), "5 digits")),
                _ => None,
            };
            if let Some((false, format)) = rule {
                self.bad_format(&format!("{path}.Zipcode"), zipcode, format);
            }
            if country == Some("NL") && zipcode == UNKNOWN_ZIPCODE {
                warnings.push(Notice::new("1280103", "Address is unknown"));
            }
        }
        warnings
    }

    // -- one shipment ---------------------------------------------------------------

    fn shipment<'a>(
        &mut self,
        i: usize,
        raw: &'a Value,
        customer_code: Option<&str>,
        customer_sender: Option<&'a Map<String, Value>>,
    ) -> Option<Accepted<'a>> {
        let path = format!("Shipments[{i}]");
        let Some(s) = raw.as_object() else {
            self.wrong_type(&path, raw, "object");
            return None;
        };
        let before = self.problems.len();
        let mut warnings = Vec::new();

        let barcode = self.barcode_field(s, customer_code);
        let product = self.product_field(s, &path);

        // Addresses.
        let mut receiver = None;
        let mut receiver_country = None;
        let mut shipment_sender = None;
        let mut pickup_address = None;
        match s.get("Addresses") {
            None | Some(Value::Null) => self.fail("10602", "Receiver address is required"),
            Some(Value::Array(list)) => {
                for (j, item) in list.iter().enumerate() {
                    let apath = format!("{path}.Addresses[{j}]");
                    let Some(a) = item.as_object() else {
                        self.wrong_type(&apath, item, "object");
                        continue;
                    };
                    let (kind, country) = self.address_common(a, &apath);
                    match kind.as_deref() {
                        Some("01") if receiver.is_none() => {
                            receiver = Some(a);
                            receiver_country = country;
                            warnings.extend(self.receiver(a, &apath, receiver_country.as_deref()));
                        }
                        Some("02") if shipment_sender.is_none() => {
                            self.sender(a, &apath);
                            shipment_sender = Some(a);
                        }
                        Some("09") => pickup_address = Some(a),
                        _ => {}
                    }
                }
                if receiver.is_none() {
                    self.fail("10602", "Receiver address is required");
                }
            }
            Some(other) => self.wrong_type(&format!("{path}.Addresses"), other, "array"),
        }
        let sender = customer_sender.or(shipment_sender);
        if sender.is_none() {
            self.fail("1040102", "Address is missing for AddressType 02");
        }

        let weight = self.dimension(s, &path, product);
        let options = self.product_options(s, &path);
        self.delivery_date(s, &path, product, &options);
        self.contacts(s, &path, product, &options, &mut warnings);
        self.amounts(
            s,
            &path,
            product,
            barcode.as_deref().unwrap_or(""),
            &mut warnings,
        );
        let commercial = self.customs(s, &path, product);
        self.groups(s, &path, barcode.as_deref(), receiver_country.as_deref());
        for key in ["CustomerOrderNumber", "CostCenter", "Content", "CodingText"] {
            self.opt_text(s, key, &path, 35);
        }
        for key in [
            "Remark",
            "ReturnBarcode",
            "ReturnReference",
            "ProductCodeCollect",
        ] {
            self.opt_text(s, key, &path, usize::MAX);
        }
        let reference = self
            .opt_text(s, "Reference", &path, usize::MAX)
            .unwrap_or_default()
            .to_owned();
        if reference.starts_with(TRIGGER_WARNING) {
            warnings.push(Notice::new("1280103", "Address is unknown"));
        }

        if let Some(p) = product {
            self.product_rules(
                p,
                receiver_country.as_deref(),
                barcode.as_deref(),
                &options,
                pickup_address,
            );
        }

        if self.problems.len() != before {
            return None;
        }
        Some(Accepted {
            raw,
            barcode: barcode?,
            product: product?,
            receiver: receiver?,
            sender,
            reference,
            weight,
            commercial,
            warnings,
        })
    }

    /// `Groups[]` (multi-collo, issue #19): GroupType two digits and MainBarcode
    /// 11-15 characters (the spec's required fields); for GroupType 03 a GroupSequence
    /// from 1 to a GroupCount of at least 2, collo 1 naming its own barcode as the main
    /// one, destinations NL and BE only, and no insurance `Amounts` on a child collo
    /// (PostNL: "child shipment cannot contain an insurance amount"). The 2100x codes
    /// are the multicollo range of PostNL's error list; which number is which message is
    /// the sandbox's choice.
    fn groups(
        &mut self,
        s: &Map<String, Value>,
        path: &str,
        barcode: Option<&str>,
        country: Option<&str>,
    ) {
        let list = match s.get("Groups") {
            None | Some(Value::Null) => return,
            Some(Value::Array(list)) => list,
            Some(other) => {
                self.wrong_type(&format!("{path}.Groups"), other, "array");
                return;
            }
        };
        for (j, item) in list.iter().enumerate() {
            let gpath = format!("{path}.Groups[{j}]");
            let Some(g) = item.as_object() else {
                self.wrong_type(&gpath, item, "object");
                continue;
            };
            let kind = self
                .req_text(g, "GroupType", &gpath, 2, None)
                .unwrap_or_default();
            if !kind.is_empty() && !is_digits(kind, 2) {
                self.bad_format(&format!("{gpath}.GroupType"), kind, "two digits");
            }
            let main = self
                .req_text(g, "MainBarcode", &gpath, 15, None)
                .unwrap_or_default()
                .to_owned();
            if !main.is_empty() && main.chars().count() < 11 {
                self.bad_format(
                    &format!("{gpath}.MainBarcode"),
                    &main,
                    "11 to 15 characters",
                );
            }
            if kind != "03" {
                continue;
            }
            let (Count::Value(seq), Count::Value(total)) =
                (count(g, "GroupSequence"), count(g, "GroupCount"))
            else {
                self.fail(
                    "21001",
                    format!("GroupSequence and GroupCount are mandatory for multicollo shipments ({gpath})."),
                );
                continue;
            };
            if total < 2 || seq < 1 || seq > total {
                self.fail(
                    "21001",
                    format!("GroupSequence {seq} of GroupCount {total} is not a valid collo number ({gpath})."),
                );
            }
            if seq == 1 && barcode.is_some_and(|b| !b.eq_ignore_ascii_case(&main)) {
                self.fail(
                    "21003",
                    format!("MainBarcode of collo 1 must be its own barcode ({gpath})."),
                );
            }
            if !matches!(country, Some("NL" | "BE")) {
                self.fail(
                    "21004",
                    "Multicollo is only possible within the Netherlands and to Belgium.",
                );
            }
            let insured = s
                .get("Amounts")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
                || s.get("Reference")
                    .and_then(Value::as_str)
                    .is_some_and(|r| r.starts_with(TRIGGER_GROUP_INSURED));
            if seq > 1 && insured {
                self.fail(
                    "21005",
                    "Child shipment cannot contain an insurance amount.",
                );
            }
        }
    }

    fn barcode_field(
        &mut self,
        s: &Map<String, Value>,
        customer_code: Option<&str>,
    ) -> Option<String> {
        let bc = match field(s, "Barcode") {
            Field::Text(b) if !b.is_empty() => b,
            Field::Other(v) => {
                self.wrong_type("Barcode", v, "string");
                return None;
            }
            _ => {
                self.fail("14001", "Barcode is required");
                return None;
            }
        };
        if !(11..=15).contains(&bc.chars().count()) {
            self.bad_format("Barcode", bc, "11-15 characters");
            return None;
        }
        let Some(issued) = self
            .state
            .issued_index
            .get(bc)
            .and_then(|&i| self.state.issued.get(i))
        else {
            self.fail(
                "20502",
                format!("Barcode {bc} is not a valid barcode (sandbox: not issued by this sandbox's barcode service)"),
            );
            return None;
        };
        if customer_code.is_some_and(|c| c != issued.customer_code) {
            self.fail(
                "20502",
                format!(
                    "Barcode {bc} is not a valid barcode (sandbox: issued for CustomerCode {})",
                    issued.customer_code
                ),
            );
            return None;
        }
        Some(bc.to_owned())
    }

    fn product_field(&mut self, s: &Map<String, Value>, path: &str) -> Option<Product> {
        let code = match field(s, "ProductCodeDelivery") {
            Field::Text(c) if !c.is_empty() => c,
            Field::Other(v) => {
                self.wrong_type(
                    &format!("{path}.ProductCodeDelivery"),
                    v,
                    "string of 4-5 digits",
                );
                return None;
            }
            _ => {
                self.missing(&format!("{path}.ProductCodeDelivery"));
                return None;
            }
        };
        if !(4..=5).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            self.bad_format(&format!("{path}.ProductCodeDelivery"), code, "4-5 digits");
            return None;
        }
        let found = find_product(code);
        if found.is_none() {
            self.fail("16", format!("ProductCodeDelivery {code} not found."));
        }
        found
    }

    fn dimension(
        &mut self,
        s: &Map<String, Value>,
        path: &str,
        product: Option<Product>,
    ) -> Option<u64> {
        let dpath = format!("{path}.Dimension");
        let d = self.object(s.get("Dimension"), &dpath)?;
        let limit = match product.map(|p| p.zone) {
            Some(Zone::NonEu) => 20_000,
            _ => 30_000,
        };
        let weight = match count(d, "Weight") {
            Count::Absent => {
                self.fail("11504", "Parcel weight is required");
                None
            }
            Count::NotInteger => {
                self.fail("16303", "Parcel weight is not an integer");
                None
            }
            Count::Negative | Count::Value(0) => {
                self.fail(
                    "6",
                    format!(
                        "Value '{}' of '{dpath}.Weight' is not in the correct range '1 - {limit}'.",
                        shown_value(d.get("Weight").unwrap_or(&Value::Null))
                    ),
                );
                None
            }
            Count::Value(w) if w > limit => {
                self.fail("16304", format!("Weight cannot exceed {limit} grams"));
                None
            }
            Count::Value(w) => Some(w),
        };
        for key in ["Length", "Width", "Height", "Volume"] {
            match count(d, key) {
                Count::Absent | Count::Value(1..) => {}
                _ => self.bad_format(
                    &format!("{dpath}.{key}"),
                    &shown_value(d.get(key).unwrap_or(&Value::Null)),
                    "integer >= 1",
                ),
            }
        }
        weight
    }

    fn product_options(&mut self, s: &Map<String, Value>, path: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let list = match s.get("ProductOptions") {
            None | Some(Value::Null) => return out,
            Some(Value::Array(list)) => list,
            Some(other) => {
                self.wrong_type(&format!("{path}.ProductOptions"), other, "array");
                return out;
            }
        };
        for (j, item) in list.iter().enumerate() {
            let opath = format!("{path}.ProductOptions[{j}]");
            let Some(o) = item.as_object() else {
                self.wrong_type(&opath, item, "object");
                continue;
            };
            let characteristic = self.opt_text(o, "Characteristic", &opath, usize::MAX);
            let option = self.opt_text(o, "Option", &opath, usize::MAX);
            match (characteristic, option) {
                (Some(c), Some(v)) if !c.is_empty() && !v.is_empty() => {
                    let three = |x: &str| x.len() == 3 && x.bytes().all(|b| b.is_ascii_digit());
                    if !three(c) {
                        self.bad_format(&format!("{opath}.Characteristic"), c, "3 digits");
                    }
                    if !three(v) {
                        self.bad_format(&format!("{opath}.Option"), v, "3 digits");
                    }
                    out.push((c.to_owned(), v.to_owned()));
                }
                _ => self.fail(
                    "25001",
                    format!("{opath}: Characteristic and Option are both mandatory"),
                ),
            }
        }
        out
    }

    fn delivery_date(
        &mut self,
        s: &Map<String, Value>,
        path: &str,
        product: Option<Product>,
        options: &[(String, String)],
    ) {
        let needs = product.is_some_and(|p| p.letterbox) || options.iter().any(needs_date);
        let date = match field(s, "DeliveryDate") {
            Field::Text(d) if !d.is_empty() => Some(d),
            Field::Other(v) => {
                self.wrong_type(&format!("{path}.DeliveryDate"), v, "dd-MM-yyyy HH:mm:ss");
                return;
            }
            _ => None,
        };
        match date {
            Some(d) if !is_timestamp(d) => {
                self.fail("12210", "Delivery date is in incorrect format");
            }
            None if needs => self.fail("12209", "Delivery date is required"),
            _ => {}
        }
    }

    fn contacts(
        &mut self,
        s: &Map<String, Value>,
        path: &str,
        product: Option<Product>,
        options: &[(String, String)],
        warnings: &mut Vec<Notice>,
    ) {
        let mut receiver_reachable = false;
        match s.get("Contacts") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (j, item) in list.iter().enumerate() {
                    let cpath = format!("{path}.Contacts[{j}]");
                    let Some(c) = item.as_object() else {
                        self.wrong_type(&cpath, item, "object");
                        continue;
                    };
                    let kind = match field(c, "ContactType") {
                        Field::Text(k) if k.len() == 2 && k.bytes().all(|b| b.is_ascii_digit()) => {
                            k.to_owned()
                        }
                        Field::Absent => {
                            warnings.push(Notice::new(
                                "17811",
                                "Contact type was changed to 01 (receiver) because we didn't receive a contact type",
                            ));
                            "01".to_owned()
                        }
                        Field::Text(k) => {
                            self.bad_format(&format!("{cpath}.ContactType"), k, "2 digits");
                            continue;
                        }
                        Field::Other(v) => {
                            self.wrong_type(&format!("{cpath}.ContactType"), v, "2 digits");
                            continue;
                        }
                    };
                    let email = self
                        .opt_text(c, "Email", &cpath, usize::MAX)
                        .unwrap_or_default();
                    if !email.is_empty() {
                        if email.chars().count() > 50 {
                            warnings.push(Notice::new(
                                format!("11{kind}07"),
                                "Email is longer than 50 characters",
                            ));
                        }
                        if !is_email(email) {
                            self.fail(
                                format!("11{kind}06"),
                                "Email does not meet the correct format",
                            );
                        }
                    }
                    let mut phone = false;
                    for key in ["SMSNr", "TelNr"] {
                        if let Some(n) = self.opt_text(c, key, &cpath, usize::MAX)
                            && !n.is_empty()
                        {
                            phone = true;
                            if !(10..=17).contains(&n.chars().count()) {
                                self.bad_format(&format!("{cpath}.{key}"), n, "10-17 characters");
                            }
                        }
                    }
                    if kind == "01" && (phone || !email.is_empty()) {
                        receiver_reachable = true;
                    }
                }
            }
            Some(other) => self.wrong_type(&format!("{path}.Contacts"), other, "array"),
        }
        let needs_contact = product.is_some_and(|p| p.pickup) || options.iter().any(needs_date);
        if needs_contact && !receiver_reachable {
            self.fail("110104", "Email or phone number of 01 is required");
        }
    }

    fn amounts(
        &mut self,
        s: &Map<String, Value>,
        path: &str,
        product: Option<Product>,
        barcode: &str,
        warnings: &mut Vec<Notice>,
    ) {
        let mut insured = false;
        match s.get("Amounts") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (j, item) in list.iter().enumerate() {
                    let apath = format!("{path}.Amounts[{j}]");
                    let Some(a) = item.as_object() else {
                        self.wrong_type(&apath, item, "object");
                        continue;
                    };
                    let kind = self
                        .req_text(a, "AmountType", &apath, 2, None)
                        .unwrap_or_default();
                    let value = match a.get("Value") {
                        Some(Value::Number(n)) => n.as_f64().filter(|v| *v >= 0.0),
                        Some(Value::String(v)) => {
                            v.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
                        }
                        _ => None,
                    };
                    if value.is_none() {
                        self.bad_format(
                            &format!("{apath}.Value"),
                            &shown_value(a.get("Value").unwrap_or(&Value::Null)),
                            "number >= 0",
                        );
                    }
                    if let Some(cur) = self.opt_text(a, "Currency", &apath, usize::MAX)
                        && (cur.len() != 3 || !cur.bytes().all(|b| b.is_ascii_uppercase()))
                    {
                        self.bad_format(&format!("{apath}.Currency"), cur, "ISO 4217, 3 capitals");
                    }
                    match kind {
                        "01" => self.fail("13701", "COD is not allowed for this product"),
                        "02" if product.is_some_and(|p| p.insured) => {
                            insured = true;
                            if value.is_some_and(|v| v > 5000.0) {
                                self.fail(
                                    "6",
                                    format!("Value '{}' of '{apath}.Value' is not in the correct range '0 - 5000'.", shown_value(a.get("Value").unwrap_or(&Value::Null))),
                                );
                            }
                        }
                        "02" => warnings.push(Notice::new(
                            "17810",
                            format!("Insured value for shipment {barcode} has been removed, product is not an insured product."),
                        )),
                        _ => {}
                    }
                }
            }
            Some(other) => self.wrong_type(&format!("{path}.Amounts"), other, "array"),
        }
        if product.is_some_and(|p| p.insured) && !insured {
            self.missing(&format!("{path}.Amounts (AmountType 02, insured value)"));
        }
    }

    /// Returns whether the customs declare commercial goods (for the invoice document).
    fn customs(&mut self, s: &Map<String, Value>, path: &str, product: Option<Product>) -> bool {
        let zone = product.map(|p| p.zone);
        let cpath = format!("{path}.Customs");
        let customs = match s.get("Customs") {
            None | Some(Value::Null) => {
                if zone == Some(Zone::NonEu) {
                    self.fail("16301", "Customs segment is required");
                }
                return false;
            }
            Some(Value::Object(c)) => c,
            Some(other) => {
                self.wrong_type(&cpath, other, "object");
                return false;
            }
        };
        if zone == Some(Zone::Nl) {
            self.fail("8", "Parameter 'Customs' must be null.");
            return false;
        }
        let kind = self.req_text(customs, "ShipmentType", &cpath, usize::MAX, None);
        if let Some(k) = kind
            && ![
                "Gift",
                "Documents",
                "Commercial Goods",
                "Commercial Sample",
                "Returned Goods",
            ]
            .contains(&k)
        {
            self.bad_format(
                &format!("{cpath}.ShipmentType"),
                k,
                "Gift|Documents|Commercial Goods|Commercial Sample|Returned Goods",
            );
        }
        if let Some(cur) = self.req_text(customs, "Currency", &cpath, usize::MAX, None)
            && cur != "EUR"
            && cur != "USS"
        {
            self.bad_format(&format!("{cpath}.Currency"), cur, "EUR|USS");
        }
        match customs.get("Content") {
            Some(Value::Array(items)) if (1..=5).contains(&items.len()) => {
                for (j, item) in items.iter().enumerate() {
                    let ipath = format!("{cpath}.Content[{j}]");
                    let Some(it) = item.as_object() else {
                        self.wrong_type(&ipath, item, "object");
                        continue;
                    };
                    let description = text(it, "Description");
                    if !(1..=35).contains(&description.chars().count()) {
                        self.fail("16309", "Field Description must be between 1 and 35 long and is required.");
                    }
                    if !matches!(count(it, "Quantity"), Count::Value(1..)) {
                        self.fail("16310", "Field Quantity must be between 1 and 10 long and is required.");
                    }
                    if !matches!(count(it, "Weight"), Count::Value(_)) {
                        self.fail("16311", "Field Weigth must be between 1 and 10 long and is required.");
                    }
                    if !it.get("Value").is_some_and(|v| v.as_f64().is_some_and(|x| x >= 0.0)) {
                        self.fail("16312", "Field Value must be between 1 and 8 long and is required.");
                    }
                    if let Some(hs) = it.get("HSTariffNr").filter(|v| !v.is_null()) {
                        let ok = hs.as_str().is_some_and(|h| (6..=10).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_digit()));
                        if !ok {
                            self.fail("16308", "Field HSTariffNr must be between 6 and 10 digits");
                        }
                    }
                    if let Some(origin) = it.get("CountryOfOrigin").filter(|v| !v.is_null()) {
                        let ok = origin.as_str().is_some_and(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_uppercase()));
                        if !ok {
                            self.fail("16314", "Field CountryOfOrigin must be between 1 and 2.");
                        }
                    }
                }
            }
            Some(Value::Array(items)) => self.fail(
                "6",
                format!("Value '{}' of '{cpath}.Content' (number of items) is not in the correct range '1 - 5'.", items.len()),
            ),
            None | Some(Value::Null) => self.missing(&format!("{cpath}.Content")),
            Some(other) => self.wrong_type(&format!("{cpath}.Content"), other, "array"),
        }
        let commercial = matches!(kind, Some("Commercial Goods" | "Commercial Sample"));
        if commercial {
            let proven = [
                ("Invoice", "InvoiceNr"),
                ("Certificate", "CertificateNr"),
                ("License", "LicenseNr"),
            ]
            .iter()
            .any(|(flag, nr)| {
                customs.get(*flag) == Some(&Value::Bool(true))
                    && !text(customs, nr).trim().is_empty()
            });
            if !proven {
                self.missing(&format!(
                    "{cpath}.Invoice/Certificate/License with its number"
                ));
            }
        }
        kind == Some("Commercial Goods")
    }

    fn product_rules(
        &mut self,
        p: Product,
        country: Option<&str>,
        barcode: Option<&str>,
        options: &[(String, String)],
        pickup_address: Option<&Map<String, Value>>,
    ) {
        if let Some(country) = country {
            match p.zone {
                Zone::Nl if country != "NL" => {
                    self.fail("1270105", "Only NL is allowed for AddressType 01");
                }
                Zone::Be if country != "BE" => {
                    self.fail("1270105", "Only BE is allowed for AddressType 01");
                }
                Zone::Fr if country != "FR" => {
                    self.fail("1270105", "Only FR is allowed for AddressType 01");
                }
                Zone::Eu if !EU_OTHER_THAN_NL_BE.contains(&country) => self.fail(
                    "1270107",
                    "The country in AddressType 01 must be a country in EU (other than NL and BE)",
                ),
                Zone::NonEu | Zone::DirectInfeed
                    if EU_OTHER_THAN_NL_BE.contains(&country)
                        || country == "NL"
                        || country == "BE" =>
                {
                    self.fail(
                        "1270108",
                        "The country in AddressType 01 must be outside EU",
                    );
                }
                Zone::Peps(_) if country == "NL" => {
                    self.fail("1270106", "NL is not allowed for AddressType 01");
                }
                _ => {}
            }
        }
        if let Some(issued) = barcode
            .and_then(|b| self.state.issued_index.get(b))
            .and_then(|&i| self.state.issued.get(i))
        {
            let kind = issued.barcode_type.as_str();
            let len = issued.barcode.len();
            match p.zone {
                Zone::Nl | Zone::Be | Zone::DirectInfeed | Zone::Eu | Zone::Fr if kind != "3S" => {
                    self.fail("14003", "Barcode is not a valid 3S barcode");
                }
                Zone::Eu | Zone::Fr if len != 13 => {
                    self.fail("14002", "Barcode length must be 13 characters");
                }
                Zone::NonEu if barcode_family(kind) != Some(BarcodeFamily::GlobalPack) => {
                    self.fail("10701", "Barcode is not a valid S10-barcode");
                }
                Zone::Peps(wanted) if kind != wanted => {
                    self.fail("10701", "Barcode is not a valid S10-barcode");
                }
                _ => {}
            }
        }
        let has = |c: &str, o: &str| options.iter().any(|(x, y)| x == c && y == o);
        let tracked = has("005", "025") || has("004", "015") || has("004", "016");
        let consumer_type = has("101", "012") || has("101", "013");
        match p.options {
            OptionRule::TrackAndConsumerType if !(tracked && consumer_type) => self.missing(&format!(
                "ProductOptions: product {} needs 005/025, 004/015 or 004/016 and 101/012 or 101/013",
                p.code
            )),
            OptionRule::Track if !tracked => self.missing(&format!(
                "ProductOptions: product {} needs 005/025, 004/015 or 004/016",
                p.code
            )),
            _ => {}
        }
        let domestic_parcel = p.zone == Zone::Nl && !p.letterbox;
        if has("118", "006") && !domestic_parcel {
            self.fail(
                "13301",
                "Evening Delivery not possible for this product code",
            );
        }
        if has("101", "008") && !domestic_parcel {
            self.fail(
                "13304",
                "Sunday Delivery is not available for this product code",
            );
        }
        if p.pickup {
            match pickup_address {
                None => self.fail("1270902", "AddressType 09 is required"),
                Some(a) if text(a, "CompanyName").trim().is_empty() => self.fail(
                    "1280902",
                    "Incorrect address specified in AddressType 09: CompanyName is required",
                ),
                Some(_) => {}
            }
        }
    }
}

fn needs_date(option: &(String, String)) -> bool {
    matches!(
        (option.0.as_str(), option.1.as_str()),
        ("118", "006" | "044") | ("101", "008")
    )
}

fn first_word(text: &str) -> &str {
    text.split(|c: char| c.is_whitespace() || c == '.' || c == ',')
        .find(|w| !w.is_empty())
        .unwrap_or("")
}

/// Street values naming a post-office box (Dutch, German, English, French, Spanish wording).
fn is_po_box(street: &str) -> bool {
    let lower = street.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let starts = |prefix: &[&str]| {
        words.len() >= prefix.len() && words.iter().zip(prefix).all(|(w, p)| w == p)
    };
    starts(&["postbus"])
        || starts(&["postfach"])
        || starts(&["pobox"])
        || starts(&["po", "box"])
        || starts(&["p", "o", "box"])
        || starts(&["post", "office", "box"])
        || starts(&["boîte", "postale"])
        || starts(&["boite", "postale"])
        || starts(&["apartado", "de", "correos"])
}

fn is_nl_zipcode(z: &str) -> bool {
    let b = z.as_bytes();
    b.len() == 6
        && (b'1'..=b'9').contains(&b[0])
        && b[1..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_uppercase)
}

fn is_digits(z: &str, n: usize) -> bool {
    z.len() == n && z.bytes().all(|b| b.is_ascii_digit())
}

fn is_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !e.chars().any(char::is_whitespace)
}

// ---------------------------------------------------------------------------------------
// Labelling and confirming

fn parse_fault() -> Response {
    Response::json(
        500,
        &json!({"fault": {
            "faultstring": "Unexpected token in object literal",
            "detail": {"errorcode": "Validation Fault"}
        }}),
    )
}

fn internal_fault(message: &str) -> Response {
    Response::json(
        500,
        &json!({"fault": {"faultstring": message, "detail": {"errorcode": "steps.sandbox.LabelFailed"}}}),
    )
}

/// The shipment's barcode as sent, for error contexts.
fn sent_barcode(body: &Value, index: usize) -> String {
    body.get("Shipments")
        .and_then(|s| s.get(index))
        .and_then(|s| s.get("Barcode"))
        .and_then(Value::as_str)
        .map(shown)
        .unwrap_or_default()
}

fn label_errors(body: &Value, problems: &[Problem], nested: bool) -> Response {
    let context = |p: &Problem| match p.shipment {
        Some(i) => {
            let barcode = sent_barcode(body, i);
            if barcode.is_empty() {
                format!("Validation failed for shipment: #{}", i + 1)
            } else {
                format!("Validation failed for shipment: {barcode}")
            }
        }
        None => "Validation failed for request".to_owned(),
    };
    let value = if nested {
        let items: Vec<Value> = problems
            .iter()
            .map(|p| json!({"ErrorMsg": p.description, "ErrorNumber": p.code}))
            .collect();
        json!({"Errors": {"Error": items}})
    } else {
        let items: Vec<Value> = problems
            .iter()
            .map(|p| json!({"Error": context(p), "Code": p.code, "Description": p.description}))
            .collect();
        json!({"Errors": items})
    };
    Response::json(400, &value)
}

fn notices(list: &[Notice]) -> Value {
    Value::Array(
        list.iter()
            .map(|n| json!({"Code": n.code, "Description": n.description}))
            .collect(),
    )
}

/// Why a valid shipment still gets no label (the in-200 error form), if it does not.
fn error_in_200(a: &Accepted<'_>) -> Option<Notice> {
    if a.reference.starts_with(TRIGGER_ERROR_IN_200) {
        Some(Notice::new(
            "13",
            "Exception occured: no label could be made for this shipment",
        ))
    } else if a.product.zone == Zone::DirectInfeed {
        Some(Notice::new("111", "No label available, Direct Infeed"))
    } else {
        None
    }
}

fn label_address(a: &Map<String, Value>) -> LabelAddress {
    let street = text(a, "Street");
    LabelAddress {
        first_name: text(a, "FirstName").to_owned(),
        name: text(a, "Name").to_owned(),
        company: text(a, "CompanyName").to_owned(),
        street: if street.trim().is_empty() {
            text(a, "StreetHouseNrExt").to_owned()
        } else {
            street.to_owned()
        },
        house_nr: text(a, "HouseNr").to_owned(),
        house_nr_ext: text(a, "HouseNrExt").to_owned(),
        zipcode: text(a, "Zipcode").to_owned(),
        city: text(a, "City").to_owned(),
        country: text(a, "Countrycode").to_owned(),
    }
}

fn documents_for(a: &Accepted<'_>, now: OffsetDateTime) -> Vec<LabelSpec> {
    let kinds: &[LabelKind] = if a.product.letterbox {
        &[LabelKind::Letterbox]
    } else if a.product.zone == Zone::NonEu {
        if a.commercial {
            &[
                LabelKind::Cn23,
                LabelKind::Cp71,
                LabelKind::CommercialInvoice,
            ]
        } else {
            &[LabelKind::Cn23, LabelKind::Cp71]
        }
    } else {
        &[LabelKind::Parcel]
    };
    kinds
        .iter()
        .map(|&kind| LabelSpec {
            kind,
            barcode: a.barcode.clone(),
            product_code: a.product.code.to_owned(),
            sender: a.sender.map(label_address).unwrap_or_default(),
            receiver: label_address(a.receiver),
            reference: a.reference.clone(),
            weight_grams: a.weight,
            created: now,
        })
        .collect()
}

fn label(state: &mut PostnlState, req: &Request, now: OffsetDateTime) -> Response {
    let confirm = match req.query_param("confirm") {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            let problem = Problem {
                shipment: None,
                code: "5".to_owned(),
                description: format!(
                    "Value '{}' of 'confirm' is not in the correct format 'true|false'.",
                    shown(other)
                ),
            };
            return label_errors(&Value::Null, &[problem], false);
        }
    };
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return parse_fault();
    };
    let mut validator = Checker {
        state,
        endpoint: Endpoint::Label,
        problems: Vec::new(),
        scope: None,
    };
    let checked = validator.request(&body);
    let problems = validator.problems;
    let checked = match checked {
        Some(c) if problems.is_empty() => c,
        _ => {
            let nested = body
                .pointer("/Message/MessageID")
                .and_then(Value::as_str)
                .is_some_and(|id| id.starts_with(TRIGGER_NESTED_ERRORS));
            return label_errors(&body, &problems, nested);
        }
    };

    // Draw everything first, so a drawing failure changes no state.
    let mut answers = Vec::new();
    let mut merged_specs = Vec::new();
    let mut merged_barcodes = Vec::new();
    for a in &checked.shipments {
        if let Some(error) = error_in_200(a) {
            answers.push((a, Vec::new(), vec![error], Vec::new()));
            continue;
        }
        let documents = documents_for(a, now);
        let mut rendered = Vec::new();
        match checked.output {
            Output::Merge(_) => {
                merged_barcodes.push(a.barcode.clone());
                merged_specs.extend(documents);
            }
            Output::Pdf => {
                for spec in &documents {
                    match label_pdf::render(spec) {
                        Ok(bytes) => rendered.push((spec.kind.label_type(), "PDF", bytes)),
                        Err(e) => return internal_fault(&e.to_string()),
                    }
                }
            }
            Output::Zpl(dots) => {
                for spec in &documents {
                    match label_pdf::render_zpl(spec, dots) {
                        Ok(bytes) => rendered.push((spec.kind.label_type(), "ZPL", bytes)),
                        Err(e) => return internal_fault(&e.to_string()),
                    }
                }
            }
        }
        answers.push((a, rendered, Vec::new(), a.warnings.clone()));
    }
    let mut merged = Vec::new();
    if let Output::Merge(slot) = checked.output
        && !merged_specs.is_empty()
    {
        match label_pdf::render_a4_sheets(&merged_specs, slot) {
            Ok(bytes) => merged.push(json!({
                "Barcodes": merged_barcodes,
                "Labels": [{
                    "Content": base64::engine::general_purpose::STANDARD.encode(&bytes),
                    "Labeltype": "Label",
                    "OutputType": "PDF"
                }]
            })),
            Err(e) => return internal_fault(&e.to_string()),
        }
    }

    let single_object = checked
        .shipments
        .iter()
        .any(|a| a.reference.starts_with(TRIGGER_SINGLE_OBJECT));
    let mut shipments_out = Vec::new();
    for (a, rendered, errors, warnings) in answers {
        let made = errors.is_empty();
        let labels: Vec<Value> = rendered
            .iter()
            .map(|(kind, output, bytes)| {
                json!({
                    "Content": base64::engine::general_purpose::STANDARD.encode(bytes),
                    "Labeltype": kind,
                    "OutputType": output
                })
            })
            .collect();
        let mut entry = json!({
            "Barcode": a.barcode,
            "ProductCodeDelivery": a.product.code,
            "Labels": labels,
            "Errors": notices(&errors),
            "Warnings": notices(&warnings),
        });
        if single_object {
            collapse(&mut entry, &["Labels", "Warnings"]);
            if let Some(obj) = entry.as_object_mut() {
                obj.insert("DownPartnerLocation".to_owned(), json!({}));
            }
        }
        shipments_out.push(entry);
        if made {
            *state.labels_made.entry(a.barcode.clone()).or_insert(0) += 1;
            if let Some((_, _, first)) = rendered.into_iter().next() {
                state.last_label.insert(a.barcode.clone(), first);
            }
            state.shipments.push(ReceivedShipment {
                barcode: a.barcode.clone(),
                product_code: a.product.code.to_owned(),
                shipment: a.raw.clone(),
                labelled: true,
                confirmed: confirm,
            });
        }
    }
    let mut answer = json!({
        "MergedLabels": merged,
        "ResponseShipments": shipments_out,
    });
    if single_object {
        collapse(&mut answer, &["ResponseShipments"]);
    }
    Response::json(200, &answer)
}

/// Replaces one-element arrays under `keys` by their only element.
fn collapse(value: &mut Value, keys: &[&str]) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    for key in keys {
        if let Some(Value::Array(items)) = obj.get_mut(*key)
            && items.len() == 1
        {
            let only = items.remove(0);
            obj.insert((*key).to_owned(), only);
        }
    }
}

fn confirm(state: &mut PostnlState, req: &Request) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return parse_fault();
    };
    let mut validator = Checker {
        state,
        endpoint: Endpoint::Confirm,
        problems: Vec::new(),
        scope: None,
    };
    let checked = validator.request(&body);
    let problems = validator.problems;
    let checked = match checked {
        Some(c) if problems.is_empty() => c,
        _ => return confirm_errors(&body, &problems),
    };
    let mut out = Vec::new();
    for a in &checked.shipments {
        let error = error_in_200(a);
        let errors: Vec<Value> = error
            .iter()
            .map(|n| json!({"code": n.code, "description": n.description}))
            .collect();
        out.push(json!({
            "Barcode": a.barcode,
            "Errors": errors,
            "Warnings": notices(&a.warnings),
        }));
        if error.is_some() {
            continue;
        }
        let mut known = false;
        for s in state
            .shipments
            .iter_mut()
            .filter(|s| s.barcode == a.barcode)
        {
            s.confirmed = true;
            known = true;
        }
        if !known {
            state.shipments.push(ReceivedShipment {
                barcode: a.barcode.clone(),
                product_code: a.product.code.to_owned(),
                shipment: a.raw.clone(),
                labelled: false,
                confirmed: true,
            });
        }
    }
    Response::json(200, &json!({"ResponseShipments": out}))
}

fn confirm_errors(body: &Value, problems: &[Problem]) -> Response {
    let count = body
        .get("Shipments")
        .and_then(Value::as_array)
        .map_or(0, |s| s.len().min(MAX_SHIPMENTS));
    let item = |p: &Problem| json!({"code": p.code, "description": p.description});
    let general: Vec<Value> = problems
        .iter()
        .filter(|p| p.shipment.is_none())
        .map(item)
        .collect();
    let mut out = Vec::new();
    for i in 0..count.max(1) {
        let mut errors = general.clone();
        errors.extend(problems.iter().filter(|p| p.shipment == Some(i)).map(item));
        if errors.is_empty() {
            continue;
        }
        out.push(json!({"Barcode": sent_barcode(body, i), "Errors": errors, "Warnings": []}));
    }
    Response::json(400, &json!({"ResponseShipments": out}))
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::Path;

    use base64::Engine as _;
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use time::OffsetDateTime;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2025-02-03 09:15:00 UTC);

    fn request(method: &str, path: &str, query: &[(&str, &str)], body: Vec<u8>) -> Request {
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            headers: vec![
                ("apikey".to_owned(), API_KEY.to_owned()),
                ("accept".to_owned(), "application/json".to_owned()),
            ],
            body,
        }
    }

    fn json_of(resp: &Response) -> Value {
        serde_json::from_slice(&resp.body).expect("JSON body")
    }

    fn get_barcode(state: &mut PostnlState, query: &[(&str, &str)]) -> Response {
        handle(state, &request("GET", BARCODE_PATH, query, Vec::new()), NOW)
    }

    fn issue(state: &mut PostnlState, kind: &str, range: &str, serie: &str) -> String {
        let customer = if matches!(kind, "3S" | "2S") {
            range
        } else {
            "DEVC"
        };
        let resp = get_barcode(
            state,
            &[
                ("CustomerCode", customer),
                ("CustomerNumber", "11223344"),
                ("Type", kind),
                ("Range", range),
                ("Serie", serie),
            ],
        );
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        json_of(&resp)["Barcode"].as_str().unwrap().to_owned()
    }

    fn nl15(state: &mut PostnlState) -> String {
        issue(state, "3S", "DEVC", "987000000-987600000")
    }

    fn eu13(state: &mut PostnlState) -> String {
        issue(state, "3S", "DEVC", "0000000-9999999")
    }

    fn shipment(barcode: &str) -> Value {
        json!({
            "Addresses": [{
                "AddressType": "01", "FirstName": "Jan", "Name": "Jansen",
                "Street": "Laan van Meerdervoort", "HouseNr": "1021", "HouseNrExt": "bis",
                "Zipcode": "2564AZ", "City": "Den Haag", "Countrycode": "NL"
            }],
            "Barcode": barcode,
            "Contacts": [{"ContactType": "01", "Email": "koper@example.org", "SMSNr": "+31612345678"}],
            "Dimension": {"Weight": 850},
            "ProductCodeDelivery": "3085",
            "Reference": "402-0000000-0000001"
        })
    }

    fn body_with(shipments: Vec<Value>) -> Value {
        json!({
            "Customer": {
                "CustomerCode": "DEVC",
                "CustomerNumber": "11223344",
                "CollectionLocation": "123456",
                "ContactPerson": "Winkelier",
                "Email": "orders@example-shop.nl",
                "Name": "Voorbeeldwinkel",
                "Address": {
                    "AddressType": "02", "CompanyName": "Voorbeeldwinkel B.V.",
                    "Street": "Voorbeeldweg", "HouseNr": "10",
                    "Zipcode": "3511AB", "City": "Utrecht", "Countrycode": "NL"
                }
            },
            "Message": {
                "MessageID": "A20250203001",
                "MessageTimeStamp": "03-02-2025 09:15:00",
                "Printertype": "GraphicFile|PDF"
            },
            "Shipments": shipments
        })
    }

    fn nl_body(barcode: &str) -> Value {
        body_with(vec![shipment(barcode)])
    }

    fn be_shipment(barcode: &str) -> Value {
        let mut s = shipment(barcode);
        s["ProductCodeDelivery"] = json!("4946");
        s["Addresses"][0] = json!({
            "AddressType": "01", "Name": "Peeters", "Street": "Kerkstraat", "HouseNr": "12",
            "HouseNrExt": "bus 4", "Zipcode": "2000", "City": "Antwerpen", "Countrycode": "BE"
        });
        s
    }

    fn de_shipment(barcode: &str) -> Value {
        let mut s = shipment(barcode);
        s["ProductCodeDelivery"] = json!("4907");
        s["ProductOptions"] = json!([
            {"Characteristic": "005", "Option": "025"},
            {"Characteristic": "101", "Option": "012"}
        ]);
        s["Addresses"][0] = json!({
            "AddressType": "01", "Name": "Muster", "CompanyName": "Muster GmbH",
            "Street": "Industriestr.", "HouseNr": "8", "Zipcode": "10115", "City": "Berlin",
            "Countrycode": "DE"
        });
        s
    }

    fn post_label(state: &mut PostnlState, body: &Value, confirm: Option<&str>) -> Response {
        let query: Vec<(&str, &str)> = confirm.map(|c| ("confirm", c)).into_iter().collect();
        handle(
            state,
            &request(
                "POST",
                LABEL_PATH,
                &query,
                serde_json::to_vec(body).unwrap(),
            ),
            NOW,
        )
    }

    fn post_confirm(state: &mut PostnlState, body: &Value) -> Response {
        handle(
            state,
            &request("POST", CONFIRM_PATH, &[], serde_json::to_vec(body).unwrap()),
            NOW,
        )
    }

    /// The `(Code, Description)` pairs of a labelling 400, after checking its shape.
    fn label_errors_of(resp: &Response) -> Vec<(String, String)> {
        assert_eq!(resp.status, 400, "{}", String::from_utf8_lossy(&resp.body));
        let value = json_of(resp);
        let errors = value["Errors"].as_array().expect("Errors array");
        assert!(!errors.is_empty());
        errors
            .iter()
            .map(|e| {
                let error = e["Error"].as_str().expect("Error text");
                assert!(error.starts_with("Validation failed for "), "{error}");
                (
                    e["Code"].as_str().expect("Code").to_owned(),
                    e["Description"].as_str().expect("Description").to_owned(),
                )
            })
            .collect()
    }

    /// Sends `body` (built around one fresh NL barcode) and expects a 400 carrying `code`.
    fn expect_code(body: &Value, state: &mut PostnlState, code: &str) -> String {
        let errors = label_errors_of(&post_label(state, body, None));
        errors
            .iter()
            .find(|(c, _)| c == code)
            .unwrap_or_else(|| panic!("expected code {code}, got {errors:?}"))
            .1
            .clone()
    }

    /// A fresh state plus a valid NL request whose shipment `edit` then changes.
    fn nl_case(edit: impl FnOnce(&mut Value)) -> (PostnlState, Value) {
        let mut state = PostnlState::new(7);
        let barcode = nl15(&mut state);
        let mut body = nl_body(&barcode);
        edit(&mut body);
        (state, body)
    }

    fn check_rule(code: &str, edit: impl FnOnce(&mut Value)) -> String {
        let (mut state, body) = nl_case(edit);
        let description = expect_code(&body, &mut state, code);
        assert!(
            state.label_counts().is_empty(),
            "no label on a refused request"
        );
        description
    }

    fn decode_content(label: &Value) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(label["Content"].as_str().unwrap())
            .unwrap()
    }

    // -- schema helpers -------------------------------------------------------------

    fn spec_file(name: &str) -> Value {
        // Kept in the repository, byte for byte (see specs/SOURCE.md).
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("specs/postnl")
            .join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    /// Checks `instance` against a schema of one of PostNL's OpenAPI files in `specs/postnl`
    /// (also for the postal-code check's tests in `sandbox::postcode`).
    pub(in crate::sandbox) fn assert_schema(file: &str, schema: &str, instance: &Value) {
        let doc = spec_file(file);
        let wrapper = json!({
            "$ref": format!("#/components/schemas/{schema}"),
            "components": doc["components"].clone()
        });
        let validator = jsonschema::validator_for(&wrapper).expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{file}#{schema}: {errors:?}");
    }

    // -- routing, auth, transport-level answers ------------------------------------------

    #[test]
    fn operation_names_postnl_paths_only() {
        let op = |path: &str| operation(&request("GET", path, &[], Vec::new()));
        assert_eq!(op(BARCODE_PATH), Some("postnl.barcode"));
        assert_eq!(op(LABEL_PATH), Some("postnl.label"));
        assert_eq!(op(CONFIRM_PATH), Some("postnl.confirm"));
        assert_eq!(op("/orders/v0/orders"), None);
        assert_eq!(op("/shipment/v2_2/label/extra"), None);
    }

    #[test]
    fn wrong_apikey_gets_the_fault_object() {
        let mut state = PostnlState::new(1);
        for path in [BARCODE_PATH, LABEL_PATH, CONFIRM_PATH] {
            let mut req = request("POST", path, &[], b"{}".to_vec());
            req.headers[0].1 = "not-the-key".to_owned();
            let resp = handle(&mut state, &req, NOW);
            assert_eq!(resp.status, 401);
            let body = json_of(&resp);
            assert_eq!(
                body,
                json!({"fault": {"faultstring": "Invalid ApiKey",
                    "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}})
            );
            assert_schema("Barcode.json", "barcodeResponseError", &body);
            assert_schema("Labelling.json", "labellingResponseError", &body);
        }
    }

    #[test]
    fn missing_apikey_gets_the_unresolved_variable_message() {
        let mut state = PostnlState::new(1);
        let mut req = request("POST", LABEL_PATH, &[], b"{}".to_vec());
        req.headers.retain(|(k, _)| k != "apikey");
        let resp = handle(&mut state, &req, NOW);
        assert_eq!(resp.status, 401);
        let body = json_of(&resp);
        assert_eq!(
            body,
            json!({"message": "Failed to resolve API Key variable 'request.header.apikey'",
                "http_status_code": 401})
        );
        assert_schema("Labelling.json", "labellingUnauthorized", &body);
        assert_schema("Confirming.json", "confirmingUnauthorized", &body);
    }

    #[test]
    fn wrong_method_throttling_oversize_and_garbage() {
        let mut state = PostnlState::new(1);
        let resp = handle(
            &mut state,
            &request("GET", LABEL_PATH, &[], Vec::new()),
            NOW,
        );
        assert_eq!(resp.status, 405);
        let body = json_of(&resp);
        assert_eq!(body["http_status_code"], json!(405));
        assert_schema("Labelling.json", "labellingMethodNotAllowed", &body);
        let resp = handle(
            &mut state,
            &request("POST", BARCODE_PATH, &[], Vec::new()),
            NOW,
        );
        assert_eq!(resp.status, 405);
        assert_schema("Barcode.json", "barcodeMethodNotAllowed", &json_of(&resp));

        let resp = throttled();
        assert_eq!(resp.status, 429);
        let body = json_of(&resp);
        assert_eq!(body["http_status_code"], json!(429));
        assert_schema("Labelling.json", "labellingTooManyRequest", &body);
        assert_schema("Barcode.json", "barcodeTooManyRequest", &body);

        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let resp = handle(&mut state, &request("POST", LABEL_PATH, &[], big), NOW);
        assert_eq!((resp.status, resp.body.len()), (404, 0));
        let exact = vec![b' '; MAX_BODY_BYTES];
        let resp = handle(&mut state, &request("POST", LABEL_PATH, &[], exact), NOW);
        assert_eq!(resp.status, 500, "200 KB itself is not oversize");

        let resp = handle(
            &mut state,
            &request("POST", LABEL_PATH, &[], b"{not json".to_vec()),
            NOW,
        );
        assert_eq!(resp.status, 500);
        let body = json_of(&resp);
        assert_eq!(
            body["fault"]["detail"]["errorcode"],
            json!("Validation Fault")
        );
        assert_schema("Labelling.json", "labellingResponseError", &body);
    }

    // -- barcodes ----------------------------------------------------------------------

    #[test]
    fn nl_domestic_barcodes_are_15_sequential_and_unique() {
        let mut state = PostnlState::new(42);
        let first = nl15(&mut state);
        let second = nl15(&mut state);
        assert_eq!(first.len(), 15);
        assert!(first.starts_with("3SDEVC987"), "{first}");
        let n1: u64 = first[6..].parse().unwrap();
        let n2: u64 = second[6..].parse().unwrap();
        assert!((987_000_000..=987_600_000).contains(&n1));
        assert_eq!(n2, n1 + 1);
        assert_eq!(
            state.issued_barcodes(),
            vec![first.as_str(), second.as_str()]
        );
        assert_eq!(state.issued()[0].barcode_type, "3S");

        let mut again = PostnlState::new(42);
        assert_eq!(nl15(&mut again), first, "same seed, same barcodes");
        let resp = get_barcode(
            &mut state,
            &[
                ("CustomerCode", "DEVC"),
                ("CustomerNumber", "11223344"),
                ("Type", "3S"),
                ("Range", "DEVC"),
                ("Serie", "987000000-987600000"),
            ],
        );
        assert_schema("Barcode.json", "barcodeResponse", &json_of(&resp));
    }

    #[test]
    fn eu_and_other_series_give_13_characters() {
        let mut state = PostnlState::new(3);
        assert_eq!(eu13(&mut state).len(), 13);
        let abc = issue(&mut state, "3S", "ABC", "10000000-20000000");
        assert!(abc.starts_with("3SABC") && abc.len() == 13, "{abc}");
        let a = issue(&mut state, "3S", "A", "5210500000-5210600000");
        assert!(a.starts_with("3SA521") && a.len() == 13, "{a}");
        let two = issue(&mut state, "3S", "AB", "00000000000-99999999999");
        assert_eq!(two.len(), 15);
        let gp = issue(&mut state, "CC", "1234", "0000-9999");
        assert!(
            gp.starts_with("CC1234") && gp.ends_with("NL") && gp.len() == 13,
            "{gp}"
        );
        assert_eq!(
            s10_check_digit(&gp[2..10]).unwrap(),
            gp[10..11].parse::<u32>().unwrap()
        );
        let la = issue(&mut state, "LA", "NL", "00000000-99999999");
        assert!(
            la.starts_with("LA") && la.ends_with("NL") && la.len() == 13,
            "{la}"
        );
        // Without Range and Serie: the customer code and a 13-character serie.
        let resp = get_barcode(
            &mut state,
            &[
                ("CustomerCode", "DEVC"),
                ("CustomerNumber", "11223344"),
                ("Type", "3S"),
            ],
        );
        assert_eq!(json_of(&resp)["Barcode"].as_str().unwrap().len(), 13);
    }

    #[test]
    fn s10_check_digit_matches_the_upu_example() {
        assert_eq!(s10_check_digit("47312482"), Some(9));
        assert_eq!(s10_check_digit("4731248"), None);
        assert_eq!(s10_check_digit("4731248x"), None);
    }

    #[test]
    fn barcode_request_errors_use_the_barcode_error_shape() {
        let mut state = PostnlState::new(1);
        let base = [
            ("CustomerCode", "DEVC"),
            ("CustomerNumber", "11223344"),
            ("Type", "3S"),
            ("Range", "DEVC"),
            ("Serie", "987000000-987600000"),
        ];
        let with = |key: &str, value: Option<&'static str>| -> Vec<(&'static str, String)> {
            base.iter()
                .filter(|(k, _)| *k != key || value.is_some())
                .map(|(k, v)| {
                    (
                        *k,
                        if *k == key {
                            value.unwrap().to_owned()
                        } else {
                            (*v).to_owned()
                        },
                    )
                })
                .collect()
        };
        let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
            (with("CustomerCode", None), "4"),
            (with("CustomerNumber", None), "4"),
            (with("Type", None), "4"),
            (with("Type", Some("XX")), "5"),
            (with("CustomerNumber", Some("123456789")), "5"),
            (with("CustomerCode", Some("TOOLONG")), "5"),
            (with("Range", Some("NL")), "5"),
            (with("Serie", Some("987000000-9876000000")), "8"),
            (with("Serie", Some("98700-98760")), "5"),
            (with("Serie", Some("987000000-987000010")), "5"),
            (with("Serie", Some("abc")), "5"),
            (with("Serie", Some("987600000-987000000")), "5"),
        ];
        for (query, number) in cases {
            let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let resp = get_barcode(&mut state, &pairs);
            assert_eq!(resp.status, 400, "{pairs:?}");
            let body = json_of(&resp);
            assert_eq!(
                body["errors"][0]["ErrorNumber"],
                json!(number),
                "{pairs:?}: {body}"
            );
            assert!(body["errors"][0]["ErrorMsg"].is_string());
            assert_schema("Barcode.json", "barcodeResponseInvalid", &body);
        }
        assert!(state.issued_barcodes().is_empty());
    }

    #[test]
    fn a_serie_runs_out() {
        let mut state = PostnlState::new(1);
        issue(&mut state, "CC", "1234", "0000-0001");
        issue(&mut state, "CC", "1234", "0000-0001");
        let resp = get_barcode(
            &mut state,
            &[
                ("CustomerCode", "DEVC"),
                ("CustomerNumber", "1"),
                ("Type", "CC"),
                ("Range", "1234"),
                ("Serie", "0000-0001"),
            ],
        );
        assert_eq!(json_of(&resp)["errors"][0]["ErrorNumber"], json!("13"));
        // Overlapping windows never hand out a barcode twice.
        let mut seen = std::collections::BTreeSet::new();
        for serie in ["0000-0003", "0001-0004", "0000-0009"] {
            for _ in 0..2 {
                assert!(seen.insert(issue(&mut state, "CD", "5678", serie)));
            }
        }
    }

    // -- labels: success -----------------------------------------------------------------

    #[test]
    fn nl_parcel_gets_one_pdf_label_and_is_recorded() {
        let mut state = PostnlState::new(5);
        let barcode = nl15(&mut state);
        let body = nl_body(&barcode);
        assert_schema("Labelling.json", "labellingRequest", &body);
        let resp = post_label(&mut state, &body, None);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let answer = json_of(&resp);
        assert_schema("Labelling.json", "labellingResponse", &answer);
        assert_eq!(answer["MergedLabels"], json!([]));
        let shipment_out = &answer["ResponseShipments"][0];
        assert_eq!(shipment_out["Barcode"], json!(barcode));
        assert_eq!(shipment_out["ProductCodeDelivery"], json!("3085"));
        assert_eq!(shipment_out["Errors"], json!([]));
        assert_eq!(shipment_out["Warnings"], json!([]));
        let label = &shipment_out["Labels"][0];
        assert_eq!(label["Labeltype"], json!("Label"));
        assert_eq!(label["OutputType"], json!("PDF"));
        let pdf = decode_content(label);
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        assert_eq!(doc.get_pages().len(), 1);
        assert_eq!(state.last_label(&barcode), Some(pdf.as_slice()));

        assert_eq!(state.labels_made(&barcode), 1);
        assert_eq!(state.shipments().len(), 1);
        let record = &state.shipments()[0];
        assert_eq!(record.shipment, body["Shipments"][0]);
        assert!(record.labelled && record.confirmed);
        assert!(state.is_confirmed(&barcode));
    }

    #[test]
    fn same_request_twice_counts_two_labels_with_identical_pdfs() {
        let mut state = PostnlState::new(5);
        let barcode = nl15(&mut state);
        let body = nl_body(&barcode);
        let a = json_of(&post_label(&mut state, &body, None));
        let b = json_of(&post_label(&mut state, &body, None));
        assert_eq!(
            a["ResponseShipments"][0]["Labels"][0]["Content"],
            b["ResponseShipments"][0]["Labels"][0]["Content"]
        );
        assert_eq!(state.labels_made(&barcode), 2, "a client must not do this");
    }

    #[test]
    fn weight_may_arrive_as_digit_string_like_postnls_own_example() {
        let (mut state, mut body) = nl_case(|_| {});
        body["Shipments"][0]["Dimension"]["Weight"] = json!("2000");
        assert_eq!(post_label(&mut state, &body, None).status, 200);
    }

    #[test]
    fn confirm_false_then_confirm_call() {
        let mut state = PostnlState::new(5);
        let barcode = nl15(&mut state);
        let body = nl_body(&barcode);
        assert_eq!(post_label(&mut state, &body, Some("false")).status, 200);
        assert!(!state.is_confirmed(&barcode));
        let mut confirm_body = body.clone();
        confirm_body["Message"]
            .as_object_mut()
            .unwrap()
            .remove("Printertype");
        assert_schema("Confirming.json", "confirmingRequest", &confirm_body);
        let resp = post_confirm(&mut state, &confirm_body);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let answer = json_of(&resp);
        assert_schema("Confirming.json", "confirmingResponse", &answer);
        assert_eq!(
            answer,
            json!({"ResponseShipments": [{"Barcode": barcode, "Errors": [], "Warnings": []}]})
        );
        assert!(state.is_confirmed(&barcode));
        assert_eq!(state.shipments().len(), 1);
        assert_eq!(state.labels_made(&barcode), 1);

        let resp = post_label(&mut state, &body, Some("maybe"));
        assert_eq!(label_errors_of(&resp)[0].0, "5");
    }

    #[test]
    fn confirm_errors_use_lower_case_keys_inside_response_shipments() {
        let mut state = PostnlState::new(5);
        let mut body = nl_body("3SDEVC987999999");
        body["Message"]
            .as_object_mut()
            .unwrap()
            .remove("Printertype");
        let resp = post_confirm(&mut state, &body);
        assert_eq!(resp.status, 400);
        let answer = json_of(&resp);
        assert_schema("Confirming.json", "confirmingResponse", &answer);
        let shipment_out = &answer["ResponseShipments"][0];
        assert_eq!(shipment_out["Barcode"], json!("3SDEVC987999999"));
        assert_eq!(shipment_out["Errors"][0]["code"], json!("20502"));
        assert!(shipment_out["Errors"][0]["description"].is_string());
        assert_eq!(shipment_out["Warnings"], json!([]));
        // A confirm for an issued but never labelled barcode is an announcement only.
        let barcode = nl15(&mut state);
        let mut body = nl_body(&barcode);
        body["Message"]
            .as_object_mut()
            .unwrap()
            .remove("Printertype");
        assert_eq!(post_confirm(&mut state, &body).status, 200);
        assert!(state.is_confirmed(&barcode));
        assert!(!state.shipments()[0].labelled);
        assert_eq!(state.labels_made(&barcode), 0);
    }

    #[test]
    fn letterbox_needs_a_delivery_date_and_gets_buspakjeextra() {
        let mut state = PostnlState::new(5);
        let barcode = nl15(&mut state);
        let mut body = nl_body(&barcode);
        body["Shipments"][0]["ProductCodeDelivery"] = json!("2928");
        assert_eq!(
            expect_code(&body, &mut state, "12209"),
            "Delivery date is required"
        );
        body["Shipments"][0]["DeliveryDate"] = json!("04-02-2025");
        expect_code(&body, &mut state, "12210");
        body["Shipments"][0]["DeliveryDate"] = json!("04-02-2025 00:00:00");
        let answer = json_of(&post_label(&mut state, &body, None));
        assert_schema("Labelling.json", "labellingResponse", &answer);
        assert_eq!(
            answer["ResponseShipments"][0]["Labels"][0]["Labeltype"],
            json!("BusPakjeExtra")
        );
    }

    #[test]
    fn batch_of_four_is_fine_and_five_is_refused() {
        let mut state = PostnlState::new(9);
        let four: Vec<Value> = (0..4).map(|_| shipment(&nl15(&mut state))).collect();
        let resp = post_label(&mut state, &body_with(four), None);
        assert_eq!(resp.status, 200);
        let answer = json_of(&resp);
        assert_eq!(answer["ResponseShipments"].as_array().unwrap().len(), 4);
        assert_eq!(state.label_counts().len(), 4);

        let five: Vec<Value> = (0..5).map(|_| shipment(&nl15(&mut state))).collect();
        let resp = post_label(&mut state, &body_with(five), None);
        let errors = label_errors_of(&resp);
        assert_eq!(errors[0].0, "6");
        assert!(errors[0].1.contains("'1 - 4'"), "{}", errors[0].1);
        assert_schema(
            "Labelling.json",
            "labellingResponseInvalid",
            &json_of(&resp),
        );
        assert_eq!(state.label_counts().len(), 4);
    }

    /// Issue #19: a multi-collo group in one request is labelled; a child with an
    /// insurance amount, a wrong main barcode, a collo number out of range or a group
    /// abroad are refused as PostNL refuses them.
    #[test]
    fn multi_collo_groups_and_their_refusals() {
        let mut state = PostnlState::new(7);
        let (a, b) = (nl15(&mut state), nl15(&mut state));
        let group = |seq: u32, main: &str| json!([{"GroupType": "03", "GroupSequence": seq, "GroupCount": 2, "MainBarcode": main}]);
        let pair = |edit: &dyn Fn(&mut Value, &mut Value)| {
            let (mut one, mut two) = (shipment(&a), shipment(&b));
            one["Groups"] = group(1, &a);
            two["Groups"] = group(2, &a);
            edit(&mut one, &mut two);
            body_with(vec![one, two])
        };
        let resp = post_label(&mut state, &pair(&|_, _| {}), None);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let answer = json_of(&resp);
        assert_eq!(answer["ResponseShipments"].as_array().unwrap().len(), 2);
        assert_eq!(state.labels_made(&a), 1);
        assert_eq!(state.labels_made(&b), 1);
        let recorded = &state.shipments()[1].shipment;
        assert_eq!(recorded["Groups"][0]["MainBarcode"], json!(a));

        let insured = json!([{"AmountType": "02", "Currency": "EUR", "Value": "500.00"}]);
        let cases: Vec<(&str, Value)> = vec![
            ("21005", pair(&|_, two| two["Amounts"] = insured.clone())),
            ("21003", pair(&|one, _| one["Groups"] = group(1, &b))),
            (
                "21001",
                pair(&|_, two| two["Groups"][0]["GroupSequence"] = json!(3)),
            ),
            (
                "4",
                pair(&|_, two| {
                    two["Groups"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("MainBarcode");
                }),
            ),
        ];
        for (code, body) in cases {
            let resp = post_label(&mut state, &body, None);
            assert_eq!(resp.status, 400, "{code}");
            let codes: Vec<String> = label_errors_of(&resp).into_iter().map(|(c, _)| c).collect();
            assert!(codes.iter().any(|c| c == code), "{code}: {codes:?}");
        }
        // The insurance amount on parcel 1 is fine (a warning for this uninsured product).
        let resp = post_label(
            &mut state,
            &pair(&|one, _| one["Amounts"] = insured.clone()),
            None,
        );
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        // Abroad (here Germany) there is no multi-collo.
        let (c, d) = (eu13(&mut state), eu13(&mut state));
        let (mut one, mut two) = (de_shipment(&c), de_shipment(&d));
        one["Groups"] =
            json!([{"GroupType": "03", "GroupSequence": 1, "GroupCount": 2, "MainBarcode": c}]);
        two["Groups"] =
            json!([{"GroupType": "03", "GroupSequence": 2, "GroupCount": 2, "MainBarcode": c}]);
        let resp = post_label(&mut state, &body_with(vec![one, two]), None);
        assert_eq!(resp.status, 400);
        assert!(label_errors_of(&resp).iter().any(|(c, _)| c == "21004"));
    }

    #[test]
    fn belgium_and_germany_products() {
        let mut state = PostnlState::new(11);
        let be = nl15(&mut state);
        let de = eu13(&mut state);
        let resp = post_label(
            &mut state,
            &body_with(vec![be_shipment(&be), de_shipment(&de)]),
            None,
        );
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        assert_schema("Labelling.json", "labellingResponse", &json_of(&resp));
        assert_eq!(state.labels_made(&be), 1);
        assert_eq!(state.labels_made(&de), 1);
    }

    #[test]
    fn non_eu_parcels_get_customs_documents() {
        let mut state = PostnlState::new(11);
        let barcode = issue(&mut state, "CC", "1234", "0000-9999");
        let mut s = shipment(&barcode);
        s["ProductCodeDelivery"] = json!("4909");
        s["ProductOptions"] = json!([{"Characteristic": "005", "Option": "025"}]);
        s["Addresses"][0] = json!({
            "AddressType": "01", "Name": "Muller", "Street": "Bahnhofstrasse", "HouseNr": "1",
            "Zipcode": "8001", "City": "Zurich", "Countrycode": "CH"
        });
        let mut body = body_with(vec![s]);
        expect_code(&body, &mut state, "16301");
        body["Shipments"][0]["Customs"] = json!({
            "ShipmentType": "Commercial Goods", "Currency": "EUR", "Invoice": true,
            "InvoiceNr": "F2025-0001", "HandleAsNonDeliverable": false,
            "Content": [{"Description": "Boeken", "Quantity": 2, "Weight": 800,
                "Value": 20.00, "HSTariffNr": "490199", "CountryOfOrigin": "NL"}]
        });
        assert_schema("Labelling.json", "labellingRequest", &body);
        let resp = post_label(&mut state, &body, None);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let answer = json_of(&resp);
        assert_schema("Labelling.json", "labellingResponse", &answer);
        let kinds: Vec<&str> = answer["ResponseShipments"][0]["Labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["Labeltype"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["CN23", "CP71", "CommercialInvoice"]);

        // A 3S barcode is not an S10 barcode.
        let nl = nl15(&mut state);
        body["Shipments"][0]["Barcode"] = json!(nl);
        expect_code(&body, &mut state, "10701");
    }

    #[test]
    fn merged_and_zpl_printer_types() {
        let mut state = PostnlState::new(13);
        let list = vec![shipment(&nl15(&mut state)), shipment(&nl15(&mut state))];
        let mut body = body_with(list);
        body["Message"]["Printertype"] = json!("GraphicFile|PDF|MergeB");
        let resp = post_label(&mut state, &body, None);
        assert_eq!(resp.status, 200);
        let answer = json_of(&resp);
        assert_schema("Labelling.json", "labellingResponse", &answer);
        assert_eq!(
            answer["MergedLabels"][0]["Barcodes"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(answer["ResponseShipments"][0]["Labels"], json!([]));
        let pdf = decode_content(&answer["MergedLabels"][0]["Labels"][0]);
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        assert_eq!(doc.get_pages().len(), 1);

        body["Message"]["Printertype"] = json!("Zebra|Generic ZPL II 300 dpi");
        let answer = json_of(&post_label(&mut state, &body, None));
        let label = &answer["ResponseShipments"][1]["Labels"][0];
        assert_eq!(label["OutputType"], json!("ZPL"));
        assert!(decode_content(label).starts_with(b"^XA"));

        body["Message"]["Printertype"] = json!("GraphicFile|GIF 200 dpi");
        let errors = label_errors_of(&post_label(&mut state, &body, None));
        assert!(
            errors[0].1.contains("sandbox draws only PDF and ZPL"),
            "{errors:?}"
        );
    }

    // -- documented triggers -------------------------------------------------------------

    #[test]
    fn error_inside_http_200_for_the_reference_trigger() {
        let mut state = PostnlState::new(17);
        let failing = nl15(&mut state);
        let fine = nl15(&mut state);
        let mut bad = shipment(&failing);
        bad["Reference"] = json!("SANDBOX-ERR-200 order 1");
        let resp = post_label(&mut state, &body_with(vec![bad, shipment(&fine)]), None);
        assert_eq!(resp.status, 200);
        let answer = json_of(&resp);
        assert_schema("Labelling.json", "labellingResponse", &answer);
        let first = &answer["ResponseShipments"][0];
        assert_eq!(first["Labels"], json!([]));
        assert_eq!(first["Errors"][0]["Code"], json!("13"));
        assert!(first["Errors"][0]["Description"].is_string());
        assert_eq!(
            answer["ResponseShipments"][1]["Labels"][0]["Labeltype"],
            json!("Label")
        );
        assert_eq!(state.labels_made(&failing), 0);
        assert_eq!(state.labels_made(&fine), 1);
        assert_eq!(state.shipments().len(), 1);
    }

    #[test]
    fn direct_infeed_product_fails_inside_http_200() {
        let mut state = PostnlState::new(17);
        let barcode = nl15(&mut state);
        let mut s = shipment(&barcode);
        s["ProductCodeDelivery"] = json!("4905");
        s["Addresses"][0] = json!({"AddressType": "01", "Name": "Smith", "Street": "High Street",
            "HouseNr": "1", "Zipcode": "SW1A 1AA", "City": "London", "Countrycode": "GB"});
        let answer = json_of(&post_label(&mut state, &body_with(vec![s]), None));
        assert_eq!(
            answer["ResponseShipments"][0]["Errors"],
            json!([{"Code": "111", "Description": "No label available, Direct Infeed"}])
        );
        assert_eq!(state.labels_made(&barcode), 0);
    }

    #[test]
    fn single_object_trigger_collapses_arrays() {
        let mut state = PostnlState::new(19);
        let barcode = nl15(&mut state);
        let mut body = nl_body(&barcode);
        body["Shipments"][0]["Reference"] = json!("SANDBOX-SINGLE-OBJECT");
        body["Shipments"][0]["Addresses"][0]["Zipcode"] = json!(UNKNOWN_ZIPCODE);
        let resp = post_label(&mut state, &body, None);
        assert_eq!(resp.status, 200);
        let answer = json_of(&resp);
        let only = answer["ResponseShipments"]
            .as_object()
            .expect("an object, not an array");
        assert_eq!(only["Barcode"], json!(barcode));
        assert_eq!(only["Labels"]["Labeltype"], json!("Label"));
        assert_eq!(only["Warnings"]["Code"], json!("1280103"));
        assert_eq!(only["DownPartnerLocation"], json!({}));
        assert_eq!(answer["MergedLabels"], json!([]));
        assert_eq!(state.labels_made(&barcode), 1);
    }

    #[test]
    fn unknown_address_warning_still_gives_a_label() {
        for edit in [
            |b: &mut Value| b["Shipments"][0]["Addresses"][0]["Zipcode"] = json!("9999ZZ"),
            |b: &mut Value| b["Shipments"][0]["Reference"] = json!("SANDBOX-WARN-1"),
        ] {
            let (mut state, body) = nl_case(edit);
            let answer = json_of(&post_label(&mut state, &body, None));
            assert_schema("Labelling.json", "labellingResponse", &answer);
            let out = &answer["ResponseShipments"][0];
            assert_eq!(
                out["Warnings"],
                json!([{"Code": "1280103", "Description": "Address is unknown"}])
            );
            assert_eq!(out["Labels"].as_array().unwrap().len(), 1);
        }
    }

    #[test]
    fn nested_error_trigger() {
        let (mut state, mut body) =
            nl_case(|b| b["Shipments"][0]["Dimension"]["Weight"] = json!(0));
        body["Message"]["MessageID"] = json!("SBXNEST-1");
        let resp = post_label(&mut state, &body, None);
        assert_eq!(resp.status, 400);
        let answer = json_of(&resp);
        let items = answer["Errors"]["Error"].as_array().expect("nested list");
        assert_eq!(items[0]["ErrorNumber"], json!("6"));
        assert!(items[0]["ErrorMsg"].is_string());
    }

    // -- validation rules, one request each ------------------------------------------

    fn receiver(b: &mut Value) -> &mut Value {
        &mut b["Shipments"][0]["Addresses"][0]
    }

    fn drop_key(v: &mut Value, key: &str) {
        v.as_object_mut().unwrap().remove(key);
    }

    #[test]
    fn request_level_rules() {
        assert_eq!(
            check_rule("4", |b| drop_key(b, "Customer")),
            "Required parameter 'Customer' is missing."
        );
        check_rule("4", |b| drop_key(b, "Message"));
        check_rule("4", |b| drop_key(b, "Shipments"));
        check_rule("4", |b| b["Shipments"] = json!([]));
        check_rule("5", |b| b["Shipments"] = json!({}));
        check_rule("21202", |b| drop_key(&mut b["Customer"], "CustomerCode"));
        check_rule("21205", |b| {
            b["Customer"]["CustomerCode"] = json!("DEVCXYZ");
        });
        check_rule("21201", |b| drop_key(&mut b["Customer"], "CustomerNumber"));
        check_rule("5", |b| {
            b["Customer"]["CustomerNumber"] = json!("123456789");
        });
        check_rule("21401", |b| {
            b["Customer"]["CollectionLocation"] = json!("1234506");
        });
        check_rule("1280202", |b| {
            b["Customer"]["Address"]["AddressType"] = json!("01");
        });
        check_rule("1280202", |b| {
            drop_key(&mut b["Customer"]["Address"], "City");
        });
        check_rule("1270203", |b| {
            drop_key(&mut b["Customer"]["Address"], "Countrycode");
        });
        check_rule("1040102", |b| drop_key(&mut b["Customer"], "Address"));
        check_rule("5", |b| b["Message"]["MessageID"] = json!("1234567890123"));
        check_rule("4", |b| b["Message"]["MessageID"] = json!(""));
        check_rule("5", |b| {
            b["Message"]["MessageTimeStamp"] = json!("2025-02-03 09:15:00");
        });
        check_rule("5", |b| {
            b["Message"]["MessageTimeStamp"] = json!("31-02-2025 09:15:00");
        });
        check_rule("4", |b| drop_key(&mut b["Message"], "Printertype"));
        check_rule("5", |b| b["Message"]["Printertype"] = json!("PDF"));
        let (mut state, _) = nl_case(|_| {});
        let resp = post_label(&mut state, &json!([1, 2]), None);
        assert_eq!(label_errors_of(&resp)[0].0, "17");
    }

    #[test]
    fn sender_may_live_in_the_shipment_instead() {
        let (mut state, mut body) = nl_case(|b| drop_key(&mut b["Customer"], "Address"));
        let sender = json!({"AddressType": "02", "CompanyName": "Voorbeeldwinkel",
            "Street": "Voorbeeldweg", "HouseNr": "10", "Zipcode": "3511AB", "City": "Utrecht",
            "Countrycode": "NL"});
        body["Shipments"][0]["Addresses"]
            .as_array_mut()
            .unwrap()
            .push(sender);
        assert_eq!(post_label(&mut state, &body, None).status, 200);
    }

    #[test]
    fn barcode_rules() {
        check_rule("14001", |b| drop_key(&mut b["Shipments"][0], "Barcode"));
        check_rule("5", |b| b["Shipments"][0]["Barcode"] = json!("3SDEVC1"));
        check_rule("5", |b| {
            b["Shipments"][0]["Barcode"] = json!("3SDEVC9870000001");
        });
        let description = check_rule("20502", |b| {
            b["Shipments"][0]["Barcode"] = json!("3SDEVC987599999");
        });
        assert!(description.contains("not issued by this sandbox"));
        // Issued, but for another customer.
        let mut state = PostnlState::new(1);
        let other = issue(&mut state, "3S", "ABCD", "987000000-987600000");
        expect_code(&nl_body(&other), &mut state, "20502");
        // EU product with a 15-character barcode, and with a GlobalPack barcode.
        let nl = nl15(&mut state);
        expect_code(&body_with(vec![de_shipment(&nl)]), &mut state, "14002");
        let gp = issue(&mut state, "CC", "1234", "0000-9999");
        expect_code(&body_with(vec![de_shipment(&gp)]), &mut state, "14003");
    }

    #[test]
    fn weight_rules() {
        check_rule("4", |b| drop_key(&mut b["Shipments"][0], "Dimension"));
        check_rule("11504", |b| b["Shipments"][0]["Dimension"] = json!({}));
        check_rule("6", |b| b["Shipments"][0]["Dimension"]["Weight"] = json!(0));
        check_rule("6", |b| {
            b["Shipments"][0]["Dimension"]["Weight"] = json!(-5);
        });
        check_rule("16303", |b| {
            b["Shipments"][0]["Dimension"]["Weight"] = json!(850.5);
        });
        check_rule("16303", |b| {
            b["Shipments"][0]["Dimension"]["Weight"] = json!("zwaar");
        });
        check_rule("16304", |b| {
            b["Shipments"][0]["Dimension"]["Weight"] = json!(30_001);
        });
        check_rule("5", |b| b["Shipments"][0]["Dimension"]["Length"] = json!(0));
    }

    #[test]
    fn product_rules() {
        check_rule("4", |b| {
            drop_key(&mut b["Shipments"][0], "ProductCodeDelivery");
        });
        check_rule("5", |b| {
            b["Shipments"][0]["ProductCodeDelivery"] = json!("30");
        });
        check_rule("5", |b| {
            b["Shipments"][0]["ProductCodeDelivery"] = json!(3085);
        });
        assert_eq!(
            check_rule("16", |b| b["Shipments"][0]["ProductCodeDelivery"] =
                json!("9999")),
            "ProductCodeDelivery 9999 not found."
        );
        // Letterbox and 3085 are NL only.
        for code in ["3085", "2928"] {
            check_rule("1270105", |b| {
                b["Shipments"][0]["ProductCodeDelivery"] = json!(code);
                b["Shipments"][0]["DeliveryDate"] = json!("04-02-2025 00:00:00");
                *receiver(b) = be_shipment("x")["Addresses"][0].clone();
            });
        }
        // 4946 is BE only.
        check_rule("1270105", |b| {
            b["Shipments"][0]["ProductCodeDelivery"] = json!("4946");
        });
        // 4907 needs an EU country other than NL and BE.
        let mut state = PostnlState::new(1);
        let eu = eu13(&mut state);
        let mut to_nl = de_shipment(&eu);
        to_nl["Addresses"][0] = shipment("x")["Addresses"][0].clone();
        expect_code(&body_with(vec![to_nl]), &mut state, "1270107");
        // 4907 needs its two options, both halves of each pair, three digits each.
        let mut no_options = de_shipment(&eu);
        drop_key(&mut no_options, "ProductOptions");
        let description = expect_code(&body_with(vec![no_options]), &mut state, "4");
        assert!(description.contains("101/012"), "{description}");
        let mut half = de_shipment(&eu);
        half["ProductOptions"][1] = json!({"Characteristic": "101"});
        expect_code(&body_with(vec![half]), &mut state, "25001");
        let mut long = de_shipment(&eu);
        long["ProductOptions"][1] = json!({"Characteristic": "101", "Option": "0120"});
        expect_code(&body_with(vec![long]), &mut state, "5");
        // Evening delivery is for NL parcels only and needs a date.
        let mut evening_de = de_shipment(&eu);
        evening_de["ProductOptions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Characteristic": "118", "Option": "006"}));
        evening_de["DeliveryDate"] = json!("04-02-2025 18:00:00");
        expect_code(&body_with(vec![evening_de]), &mut state, "13301");
        check_rule("12209", |b| {
            b["Shipments"][0]["ProductOptions"] =
                json!([{"Characteristic": "118", "Option": "006"}]);
        });
        // Customs on a domestic parcel.
        check_rule("8", |b| {
            b["Shipments"][0]["Customs"] =
                json!({"ShipmentType": "Gift", "Currency": "EUR", "Content": []});
        });
        // Insured products need an insured amount.
        check_rule("4", |b| {
            b["Shipments"][0]["ProductCodeDelivery"] = json!("3087");
        });
        check_rule("13701", |b| {
            b["Shipments"][0]["Amounts"] =
                json!([{"AmountType": "01", "Value": 10.0, "Currency": "EUR"}]);
        });
    }

    #[test]
    fn pickup_peps_france_and_amount_rules() {
        // Pickup at a PostNL point needs the point as AddressType 09 with a company name.
        let pickup = |b: &mut Value| {
            b["Shipments"][0]["ProductCodeDelivery"] = json!("3533");
        };
        check_rule("1270902", pickup);
        let (mut state, mut body) = nl_case(pickup);
        body["Shipments"][0]["Addresses"]
            .as_array_mut()
            .unwrap()
            .push(json!({
                "AddressType": "09", "Street": "Stationsplein", "HouseNr": "1",
                "Zipcode": "3511ED", "City": "Utrecht", "Countrycode": "NL"
            }));
        expect_code(&body, &mut state, "1280902");
        body["Shipments"][0]["Addresses"][1]["CompanyName"] = json!("Tabakszaak Centrum");
        assert_eq!(post_label(&mut state, &body, None).status, 200);

        // PEPS packets: the barcode type follows the product, NL is not a destination.
        let mut state = PostnlState::new(3);
        let la = issue(&mut state, "LA", "NL", "00000000-99999999");
        let ue = issue(&mut state, "UE", "NL", "00000000-99999999");
        let mut s = de_shipment(&la);
        s["ProductCodeDelivery"] = json!("6972");
        drop_key(&mut s, "ProductOptions");
        assert_eq!(
            post_label(&mut state, &body_with(vec![s.clone()]), None).status,
            200
        );
        s["Barcode"] = json!(ue);
        expect_code(&body_with(vec![s.clone()]), &mut state, "10701");
        s["Barcode"] = json!(la);
        s["Addresses"][0] = shipment("x")["Addresses"][0].clone();
        expect_code(&body_with(vec![s]), &mut state, "1270106");

        // 4999 goes to France only.
        let eu = eu13(&mut state);
        let mut s = de_shipment(&eu);
        s["ProductCodeDelivery"] = json!("4999");
        drop_key(&mut s, "ProductOptions");
        expect_code(&body_with(vec![s]), &mut state, "1270105");

        // Insured value: at most 5000, and only on insured products (else a warning).
        check_rule("6", |b| {
            b["Shipments"][0]["ProductCodeDelivery"] = json!("3087");
            b["Shipments"][0]["Amounts"] =
                json!([{"AmountType": "02", "Value": 5000.01, "Currency": "EUR"}]);
        });
        let (mut state, body) = nl_case(|b| {
            b["Shipments"][0]["Amounts"] =
                json!([{"AmountType": "02", "Value": 100.0, "Currency": "EUR"}]);
        });
        let answer = json_of(&post_label(&mut state, &body, None));
        assert_eq!(
            answer["ResponseShipments"][0]["Warnings"][0]["Code"],
            json!("17810")
        );
    }

    #[test]
    fn receiver_address_rules() {
        check_rule("10602", |b| drop_key(&mut b["Shipments"][0], "Addresses"));
        check_rule("10602", |b| receiver(b)["AddressType"] = json!("02"));
        check_rule("12804", |b| drop_key(receiver(b), "AddressType"));
        check_rule("1270103", |b| drop_key(receiver(b), "Countrycode"));
        check_rule("5", |b| receiver(b)["Countrycode"] = json!("nl"));
        check_rule("5", |b| receiver(b)["Countrycode"] = json!("NLD"));
        assert_eq!(
            check_rule("12213", |b| drop_key(receiver(b), "HouseNr")),
            "Receiver House Number is missing"
        );
        check_rule("5", |b| receiver(b)["HouseNr"] = json!("12a"));
        check_rule("5", |b| receiver(b)["HouseNr"] = json!("123456"));
        check_rule("5", |b| receiver(b)["Street"] = json!("S".repeat(96)));
        check_rule("5", |b| receiver(b)["Name"] = json!("N".repeat(36)));
        check_rule("5", |b| receiver(b)["CompanyName"] = json!("C".repeat(36)));
        check_rule("5", |b| receiver(b)["City"] = json!("C".repeat(36)));
        check_rule("5", |b| receiver(b)["HouseNrExt"] = json!("E".repeat(36)));
        check_rule("1280102", |b| {
            drop_key(receiver(b), "Name");
            drop_key(receiver(b), "FirstName");
        });
        check_rule("1280102", |b| {
            receiver(b)["StreetHouseNrExt"] = json!("Laan van Meerdervoort 1021 bis");
        });
        check_rule("11503", |b| drop_key(receiver(b), "Street"));
        check_rule("11502", |b| drop_key(receiver(b), "City"));
        check_rule("12214", |b| drop_key(receiver(b), "Zipcode"));
        check_rule("5", |b| receiver(b)["Zipcode"] = json!("2564 AZ"));
        check_rule("5", |b| receiver(b)["Zipcode"] = json!("2564az"));
        assert_eq!(
            check_rule("10601", |b| receiver(b)["Street"] = json!("Postbus")),
            "Receiver address cannot be a postal box"
        );
        check_rule("1040001", |b| {
            receiver(b)["Street"] = json!("Antwoordnummer");
        });
        check_rule("5", |b| receiver(b)["Street"] = json!(12));

        // BE zipcode and DE zipcode formats; a German PO box.
        let mut state = PostnlState::new(1);
        let be = nl15(&mut state);
        let mut s = be_shipment(&be);
        s["Addresses"][0]["Zipcode"] = json!("B-2000");
        expect_code(&body_with(vec![s]), &mut state, "5");
        let eu = eu13(&mut state);
        let mut s = de_shipment(&eu);
        s["Addresses"][0]["Zipcode"] = json!("1011");
        expect_code(&body_with(vec![s]), &mut state, "5");
        let mut s = de_shipment(&eu);
        s["Addresses"][0]["Street"] = json!("Postfach 10 20 30");
        expect_code(&body_with(vec![s]), &mut state, "10601");
        // Outside the Benelux the house number need not be numeric.
        let mut s = de_shipment(&eu);
        s["Addresses"][0]["HouseNr"] = json!("5a");
        assert_eq!(
            post_label(&mut state, &body_with(vec![s]), None).status,
            200
        );
        // StreetHouseNrExt alone is fine for NL.
        let (mut state, mut body) = nl_case(|b| {
            drop_key(receiver(b), "Street");
            drop_key(receiver(b), "HouseNr");
            drop_key(receiver(b), "HouseNrExt");
            receiver(b)["StreetHouseNrExt"] = json!("Laan van Meerdervoort 1021 bis");
        });
        assert_eq!(post_label(&mut state, &body, None).status, 200);
        body["Shipments"][0]["Addresses"][0]["Countrycode"] = json!("FR");
        body["Shipments"][0]["ProductCodeDelivery"] = json!("4999");
        expect_code(&body, &mut state, "1280102");
    }

    #[test]
    fn contact_rules() {
        check_rule("110106", |b| {
            b["Shipments"][0]["Contacts"][0]["Email"] = json!("geen-adres");
        });
        check_rule("5", |b| {
            b["Shipments"][0]["Contacts"][0]["SMSNr"] = json!("0612");
        });
        check_rule("5", |b| {
            b["Shipments"][0]["Contacts"][0]["TelNr"] = json!("+31612345678901234");
        });
        check_rule("5", |b| {
            b["Shipments"][0]["Contacts"][0]["ContactType"] = json!("1");
        });
        // Evening delivery needs a way to reach the receiver.
        check_rule("110104", |b| {
            b["Shipments"][0]["ProductOptions"] =
                json!([{"Characteristic": "118", "Option": "006"}]);
            b["Shipments"][0]["DeliveryDate"] = json!("04-02-2025 18:00:00");
            drop_key(&mut b["Shipments"][0], "Contacts");
        });
        // Warnings, not errors: a long e-mail address, a missing contact type.
        let (mut state, body) = nl_case(|b| {
            b["Shipments"][0]["Contacts"] = json!([
                {"ContactType": "01", "Email": format!("{}@example.org", "k".repeat(40))},
                {"Email": "tweede@example.org"}
            ]);
        });
        let answer = json_of(&post_label(&mut state, &body, None));
        let codes: Vec<&str> = answer["ResponseShipments"][0]["Warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["Code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["110107", "17811"]);
    }

    #[test]
    fn refused_batches_make_no_labels_at_all() {
        let mut state = PostnlState::new(21);
        let good = nl15(&mut state);
        let mut bad = shipment(&nl15(&mut state));
        bad["Dimension"]["Weight"] = json!(0);
        let resp = post_label(&mut state, &body_with(vec![shipment(&good), bad]), None);
        let value = json_of(&resp);
        assert_eq!(resp.status, 400);
        assert!(
            value["Errors"][0]["Error"]
                .as_str()
                .unwrap()
                .ends_with(&state.issued_barcodes()[1].to_owned())
        );
        assert_eq!(state.labels_made(&good), 0);
        assert!(state.shipments().is_empty());
    }

    #[test]
    fn error_bodies_validate_against_the_spec() {
        let (mut state, body) = nl_case(|b| {
            receiver(b)["HouseNr"] = json!("12a");
            b["Customer"]["CustomerCode"] = json!("DEVCXYZ");
        });
        let resp = post_label(&mut state, &body, None);
        let errors = label_errors_of(&resp);
        assert!(errors.len() >= 2, "every problem is listed: {errors:?}");
        assert_schema(
            "Labelling.json",
            "labellingResponseInvalid",
            &json_of(&resp),
        );
    }

    // -- never panic ------------------------------------------------------------------

    fn arb_json() -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(vec![
            "Customer",
            "Message",
            "Shipments",
            "Addresses",
            "Address",
            "AddressType",
            "Countrycode",
            "Street",
            "HouseNr",
            "Zipcode",
            "City",
            "Name",
            "Barcode",
            "Dimension",
            "Weight",
            "ProductCodeDelivery",
            "ProductOptions",
            "Characteristic",
            "Option",
            "Contacts",
            "ContactType",
            "Email",
            "SMSNr",
            "Amounts",
            "AmountType",
            "Value",
            "Customs",
            "Content",
            "Reference",
            "DeliveryDate",
            "MessageID",
            "Printertype",
            "CustomerCode",
            "CustomerNumber",
            "x",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "\\PC{0,20}".prop_map(Value::String),
            Just(json!("3SDEVC987000001")),
            Just(json!("01")),
            Just(json!("NL")),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    const POINTERS: [&str; 16] = [
        "/Customer",
        "/Customer/Address",
        "/Customer/CustomerCode",
        "/Message",
        "/Message/Printertype",
        "/Shipments",
        "/Shipments/0",
        "/Shipments/0/Addresses",
        "/Shipments/0/Addresses/0",
        "/Shipments/0/Addresses/0/HouseNr",
        "/Shipments/0/Dimension",
        "/Shipments/0/Dimension/Weight",
        "/Shipments/0/ProductOptions",
        "/Shipments/0/Contacts/0",
        "/Shipments/0/Barcode",
        "/Shipments/0/Reference",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn handle_never_panics_on_arbitrary_bytes(
            body in prop::collection::vec(any::<u8>(), 0..512),
            query in prop::collection::vec(("\\PC{0,12}", "\\PC{0,24}"), 0..6),
            path in prop::sample::select(vec![BARCODE_PATH, LABEL_PATH, CONFIRM_PATH, "/x"]),
            method in prop::sample::select(vec!["GET", "POST", "PUT"]),
        ) {
            let mut state = PostnlState::new(1);
            let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let resp = handle(&mut state, &request(method, path, &pairs, body), NOW);
            prop_assert!(resp.status >= 200);
        }

        #[test]
        fn barcode_service_never_panics_on_arbitrary_parameters(
            code in "\\PC{0,8}", number in "[0-9a]{0,10}",
            kind in prop::sample::select(vec!["3S", "2S", "CC", "LA", "UE", "RI", "ZZ", ""]),
            range in "[A-Z0-9]{0,6}", serie in "[0-9-]{0,24}",
        ) {
            let mut state = PostnlState::new(1);
            let resp = get_barcode(&mut state, &[
                ("CustomerCode", code.as_str()), ("CustomerNumber", number.as_str()),
                ("Type", kind), ("Range", range.as_str()), ("Serie", serie.as_str()),
            ]);
            prop_assert!(resp.status == 200 || resp.status == 400);
            if resp.status == 200 {
                let made = json_of(&resp)["Barcode"].as_str().unwrap().len();
                prop_assert!(made == 13 || made == 15);
            }
        }

        #[test]
        fn handle_never_panics_on_arbitrary_json(body in arb_json()) {
            let mut state = PostnlState::new(1);
            nl15(&mut state);
            for path in [LABEL_PATH, CONFIRM_PATH] {
                let req = request("POST", path, &[], serde_json::to_vec(&body).unwrap());
                let resp = handle(&mut state, &req, NOW);
                prop_assert!(matches!(resp.status, 200 | 400));
            }
        }

        #[test]
        fn handle_never_panics_when_one_field_of_a_valid_request_is_replaced(
            pointer in prop::sample::select(POINTERS.to_vec()),
            replacement in arb_json(),
        ) {
            let mut state = PostnlState::new(1);
            let barcode = nl15(&mut state);
            let mut body = nl_body(&barcode);
            if let Some(slot) = body.pointer_mut(pointer) {
                *slot = replacement;
            }
            for path in [LABEL_PATH, CONFIRM_PATH] {
                let req = request("POST", path, &[], serde_json::to_vec(&body).unwrap());
                let resp = handle(&mut state, &req, NOW);
                prop_assert!(matches!(resp.status, 200 | 400), "{}", resp.status);
                let _: Value = serde_json::from_slice(&resp.body).unwrap();
            }
        }
    }
}
